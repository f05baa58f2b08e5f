using System.Threading.Channels;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The messages a stream has received and its reader has not taken yet, bounded as Go's ttrpc bounds them. The
/// connection's read loop delivers; the stream's owner reads.
/// </summary>
/// <remarks>
/// ttrpc has no per-stream flow control, so a full buffer leaves two choices: hold the connection's read loop (every
/// other stream waits) or give the stream up. Like Go, the loop waits a bounded time for the reader to make room and
/// then gives up on that stream only; a stream whose reader keeps up never delays another.
/// </remarks>
internal sealed class TtrpcStreamBuffer(int capacity)
{
    private readonly Channel<ReadOnlyMemory<byte>> messages = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>What became of a delivered message.</summary>
    public enum Outcome
    {
        /// <summary>Queued for the reader.</summary>
        Delivered,

        /// <summary>The receiving side was already closed.</summary>
        Closed,

        /// <summary>The buffer stayed full for the whole grace period.</summary>
        Full,
    }

    /// <summary>Queues a message if there is room now.</summary>
    public bool TryDeliver(ReadOnlyMemory<byte> message) => messages.Writer.TryWrite(message);

    /// <summary>
    /// Queues a message, waiting up to <paramref name="fullTimeout"/> for room. <paramref name="cancellationToken"/>
    /// ending the wait counts as <see cref="Outcome.Closed"/>: whoever fired it is ending the stream.
    /// </summary>
    public async ValueTask<Outcome> DeliverAsync(ReadOnlyMemory<byte> message, TimeSpan fullTimeout, CancellationToken cancellationToken)
    {
        if (messages.Writer.TryWrite(message))
            return Outcome.Delivered;
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(fullTimeout);
        try
        {
            while (await messages.Writer.WaitToWriteAsync(grace.Token).ConfigureAwait(false))
            {
                if (messages.Writer.TryWrite(message))
                    return Outcome.Delivered;
            }
            return Outcome.Closed;
        }
        catch (OperationCanceledException) when (grace.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Outcome.Full;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Outcome.Closed;
        }
        catch (ChannelClosedException)
        {
            return Outcome.Closed;
        }
    }

    /// <summary>
    /// Ends the messages: the reader gets what is queued, then null (no <paramref name="error"/>) or the error.
    /// False when they had already ended.
    /// </summary>
    public bool Complete(Exception? error = null) => messages.Writer.TryComplete(error);

    /// <summary>The next message, or null once the messages ended without an error.</summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken)
    {
        if (messages.Reader.TryRead(out var ready))
            return ready;
        while (await messages.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (messages.Reader.TryRead(out var message))
                return message;
        }
        return null;
    }
}
