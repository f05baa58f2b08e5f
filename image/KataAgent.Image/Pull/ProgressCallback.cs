namespace KataAgent.Image.Pull;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its action inline, in order (<see cref="Progress{T}"/> posts to a
/// synchronization context or the thread pool, which can reorder reports).
/// </summary>
internal sealed class ProgressCallback<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
