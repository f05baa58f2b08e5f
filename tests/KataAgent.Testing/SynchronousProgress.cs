namespace KataAgent.Testing;

/// <summary>An <see cref="IProgress{T}"/> that calls its handler at once on the reporting thread (Progress&lt;T&gt; posts later, out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
{
    private readonly Lock _gate = new();

    /// <inheritdoc/>
    public void Report(T value)
    {
        lock (_gate)
            handler(value);
    }
}
