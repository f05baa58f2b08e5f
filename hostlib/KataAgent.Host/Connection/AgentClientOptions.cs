namespace KataAgent.Host;

/// <summary>How <see cref="AgentClient"/> connects and calls.</summary>
public sealed record AgentClientOptions
{
    /// <summary>The RPC protocol: gRPC (default, as before ttrpc was supported), ttrpc (Kata's own agent), or
    /// detect (see <see cref="AgentProtocol.Detect"/> for the rule).</summary>
    public AgentProtocol Protocol { get; init; } = AgentProtocol.Grpc;

    /// <summary>How long <see cref="AgentClient.ConnectAsync(string, AgentClientOptions?, CancellationToken)"/>
    /// keeps trying until the agent answers Health.Check. Default 30 s (Kata's dial timeout).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between connection attempts. Default 20 ms.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest wait for one Check answer on an open connection. Default 5 s.</summary>
    public TimeSpan CheckAttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait for the hybrid-vsock <c>OK</c> line. Default 10 s (as Kata's client).</summary>
    public TimeSpan HybridVsockHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline applied to calls that are not long polls, unless the caller passes a token
    /// that ends sooner. Null for none. Default 60 s (Kata's runtime default).</summary>
    public TimeSpan? DefaultCallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest response accepted, bytes; null for no limit. Default 64 MiB.</summary>
    public int? MaxReceiveMessageSize { get; init; } = 64 * 1024 * 1024;
}
