namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>Copies one output stream of a process to its <see cref="OutputSink"/> (or drains it when there is none) until the stream ends.</summary>
internal static class OutputCopier
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="sink"/> to the end, then closes the sink: the client sees
    /// the end of the stream after the last byte. A stream that fails ends the copy like its end does. Without a sink
    /// (or once it broke) the output is still read, so that an unread stream never holds the process up.
    /// </summary>
    public static async Task CopyAsync(Stream source, OutputSink? sink, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferSize];
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
                {
                    return;
                }
                if (read == 0)
                {
                    return;
                }
                if (sink is { Healthy: true })
                {
                    // Blocking writes (a full FIFO waits for its reader) run off the pool's async path.
                    int count = read;
                    await Task.Run(() => sink.Write(buffer.AsSpan(0, count)), CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            sink?.Dispose();
        }
    }
}
