namespace KataAgent.Host.Containers;

/// <summary>
/// A process's stdin as a writable <see cref="Stream"/>. Writes reach the process in order (over
/// the Attach stream, or as WriteStdin calls); <see cref="CompleteAsync"/> (or disposing the
/// stream) closes the process's stdin (CloseStdin), which the process reads as end of input. For
/// a terminal process the agent sends ^D instead, as a user would.
/// </summary>
public sealed class ProcessStdinStream : Stream
{
    private readonly Func<IProcessStdio> _stdio;
    private int _completed;

    internal ProcessStdinStream(Func<IProcessStdio> stdio)
    {
        _stdio = stdio;
    }

    /// <inheritdoc/>
    public override bool CanRead => false;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <summary>True until the stream is completed or disposed.</summary>
    public override bool CanWrite => _completed == 0;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Writes all of <paramref name="buffer"/> to the process's stdin.</summary>
    /// <exception cref="IOException">The agent refused the write (e.g. the process has exited); the inner exception has its status.</exception>
    /// <exception cref="ObjectDisposedException">The stream was completed or disposed.</exception>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed != 0, this);
        if (!buffer.IsEmpty)
        {
            await _stdio().WriteStdinAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();

    /// <summary>Nothing is buffered here: every write is sent before it returns.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Closes the process's stdin (end of input). A second call does nothing.</summary>
    /// <exception cref="IOException">The agent refused (e.g. the container is gone).</exception>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            await _stdio().CloseStdinAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc cref="CompleteAsync"/>
    public void Complete() => CompleteAsync().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Closes the process's stdin; failures (the process or container already gone) are ignored.</summary>
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                CompleteAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
            }
        }
        base.Dispose(disposing);
    }
}
