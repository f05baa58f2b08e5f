namespace KataAgent.Shim.Events;

/// <summary>How <see cref="TtrpcEventPublisher"/> forwards and retries; the defaults are containerd's publisher's.</summary>
internal sealed record TtrpcEventPublisherOptions
{
    /// <summary>How long one Forward may take, connecting included (containerd: 5 s).</summary>
    public TimeSpan ForwardTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Retries of an event before it is given up (containerd's <c>maxRequeue</c>: 5).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>The wait before the n-th retry is n times this (containerd: 1 s).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long disposing waits for the queue to drain before it drops what is left.</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
