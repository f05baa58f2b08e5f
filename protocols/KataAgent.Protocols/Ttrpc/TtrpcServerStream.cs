using Google.Protobuf;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The server's end of one ttrpc 1.2 stream, handed to a handler registered with
/// <see cref="TtrpcServer.AddStreamingMethod"/>. The handler reads the client's messages and writes its own; what it
/// returns ends the stream (see <see cref="TtrpcServer.AddStreamingMethod"/>).
/// </summary>
public sealed class TtrpcServerStream
{
    private readonly TtrpcFrameWriter writer;
    private readonly CancellationTokenSource call;
    private readonly CancellationToken callToken;
    private int finished;

    internal TtrpcServerStream(uint streamId, TtrpcStreamKind kind, int capacity, TtrpcFrameWriter writer, CancellationTokenSource call)
    {
        StreamId = streamId;
        Kind = kind;
        Received = new TtrpcStreamBuffer(capacity);
        this.writer = writer;
        this.call = call;
        callToken = call.Token;
    }

    /// <summary>The stream id the client opened the stream on.</summary>
    public uint StreamId { get; }

    /// <summary>The kind the method was registered with.</summary>
    public TtrpcStreamKind Kind { get; }

    /// <summary>The client's messages not read yet.</summary>
    internal TtrpcStreamBuffer Received { get; }

    /// <summary>True once the final frame went out (or the stream was given up): nothing more may be sent.</summary>
    internal bool IsFinished => Volatile.Read(ref finished) != 0;

    /// <summary>
    /// The client's next message (the request's own payload first, when it carries one), or null once the client
    /// closed its side. Throws <see cref="OperationCanceledException"/> when the call's deadline passes, the
    /// connection ends or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!cancellationToken.CanBeCanceled)
            return await Received.ReadAsync(callToken).ConfigureAwait(false);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        return await Received.ReadAsync(both.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends one message to the client as a data frame. Server-streaming and duplex methods only: a client-streaming
    /// method answers once, with what its handler returns.
    /// </summary>
    /// <exception cref="InvalidOperationException">The method is client-streaming, or the stream has ended.</exception>
    /// <exception cref="Grpc.Core.RpcException">ResourceExhausted: the message is over the 4 MiB frame limit.</exception>
    public async Task WriteAsync(ByteString message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        CheckWritable();
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        await writer.WriteAsync(new TtrpcFrame(StreamId, TtrpcMessageType.Data, TtrpcFlags.None, message.Memory), both.Token)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="WriteAsync(ByteString, CancellationToken)"/>, serializing <paramref name="message"/> straight into
    /// the frame (its bytes fields copied once, not once more into a <see cref="ByteString"/> first).
    /// </summary>
    /// <exception cref="InvalidOperationException">The method is client-streaming, or the stream has ended.</exception>
    /// <exception cref="Grpc.Core.RpcException">ResourceExhausted: the message is over the 4 MiB frame limit.</exception>
    public async Task WriteMessageAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        CheckWritable();
        if (!cancellationToken.CanBeCanceled)
        {
            await writer.WriteAsync(StreamId, TtrpcMessageType.Data, TtrpcFlags.None, message, callToken).ConfigureAwait(false);
            return;
        }
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        await writer.WriteAsync(StreamId, TtrpcMessageType.Data, TtrpcFlags.None, message, both.Token).ConfigureAwait(false);
    }

    private void CheckWritable()
    {
        if (Kind == TtrpcStreamKind.ClientStreaming)
            throw new InvalidOperationException("a client-streaming ttrpc method answers once, with its handler's result");
        if (IsFinished)
            throw new InvalidOperationException($"ttrpc stream {StreamId} has ended: nothing more can be sent on it");
    }

    /// <summary>Cancels the handler's call (its context token and any read or write in progress).</summary>
    internal void Cancel()
    {
        try
        {
            call.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the handler has already finished
        }
    }

    /// <summary>Claims the right to send the stream's last frame; only the first caller gets it.</summary>
    internal bool TryFinish() => Interlocked.Exchange(ref finished, 1) == 0;
}
