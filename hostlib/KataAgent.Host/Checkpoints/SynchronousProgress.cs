namespace KataAgent.Host.Checkpoints;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the caller's thread, at once: <see cref="Progress{T}"/> posts each
/// report to the thread pool, where a late one can overtake the next stage's.
/// </summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
