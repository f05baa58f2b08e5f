using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The client's end of one ttrpc 1.2 stream, opened with <see cref="TtrpcClient.OpenStreamAsync"/>. Reads and writes
/// may run at the same time (one reader, one writer). Dispose it when done: that forgets the stream and, if this side
/// is still open, closes it so the server's handler sees the end of the client's messages.
/// </summary>
/// <remarks>
/// Failures are <see cref="RpcException"/>s, as on a gRPC call: the server's status; DeadlineExceeded or Cancelled
/// when the stream's timeout or token ends it; Unavailable "ttrpc: closed" when the connection breaks.
/// </remarks>
public sealed class TtrpcClientStream : IAsyncDisposable
{
    private readonly TtrpcClient client;
    private readonly CancellationTokenSource life;
    private readonly CancellationToken lifeToken;
    private readonly CancellationTokenRegistration lifeRegistration;
    private volatile RpcException? failure;
    private volatile bool remoteEnded;
    private int localClosed;
    private int disposed;

    internal TtrpcClientStream(TtrpcClient client, uint streamId, TtrpcStreamKind kind, CancellationTokenSource life,
        CancellationToken callerToken)
    {
        this.client = client;
        this.life = life;
        lifeToken = life.Token; // kept: the source is disposed while the receive loop may still hold the stream
        StreamId = streamId;
        Kind = kind;
        // A server-streaming request carries RemoteClosed itself: this side is closed from the start.
        localClosed = kind == TtrpcStreamKind.ServerStreaming ? 1 : 0;
        lifeRegistration = lifeToken.Register(() => Fail(callerToken.IsCancellationRequested
            ? new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "context canceled"))
            : new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded"))));
    }

    /// <summary>The stream id the request went out on.</summary>
    public uint StreamId { get; }

    /// <summary>Which sides stream.</summary>
    public TtrpcStreamKind Kind { get; }

    /// <summary>The server's messages not read yet (Go's client buffers 64).</summary>
    internal TtrpcStreamBuffer Received { get; } = new(TtrpcServer.StreamBufferCapacity);

    /// <summary>Cancelled when the stream's timeout passes or the caller's token fires.</summary>
    internal CancellationToken Token => lifeToken;

    /// <summary>
    /// The server's next message, or null once it ended the stream. For a client-streaming method the one message
    /// is the Response's payload. Throws <see cref="RpcException"/> with the server's status when it failed the call.
    /// </summary>
    public ValueTask<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken = default) =>
        Received.ReadAsync(cancellationToken);

    /// <summary>Sends one message as a data frame (client-streaming and duplex methods).</summary>
    /// <exception cref="InvalidOperationException">The method is server-streaming, or this side was closed.</exception>
    /// <exception cref="RpcException">The stream has failed, or the connection is closed.</exception>
    public async Task WriteAsync(ByteString message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Kind == TtrpcStreamKind.ServerStreaming)
            throw new InvalidOperationException("cannot send data from non-streaming client: a server-streaming request is its only message");
        if (failure is { } failed)
            throw failed;
        if (Volatile.Read(ref localClosed) != 0)
            throw new InvalidOperationException("ttrpc: stream closed: this side was closed with CloseWriteAsync");
        if (remoteEnded)
            throw new InvalidOperationException("ttrpc: stream closed: the server has ended the stream");
        await SendAsync(TtrpcFlags.None, message.Memory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Tells the server this side sends nothing more: an empty <c>Data[RemoteClosed|NoData]</c> frame, as Go's
    /// <c>CloseSend</c>. Idempotent; nothing to do for a server-streaming method, or once the server ended the stream.
    /// </summary>
    public async Task CloseWriteAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref localClosed, 1) != 0 || remoteEnded)
            return;
        if (failure is { } failed)
            throw failed;
        await SendAsync(TtrpcFlags.RemoteClosed | TtrpcFlags.NoData, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes this side if it is still open, and forgets the stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        if (failure is null && !remoteEnded && Interlocked.Exchange(ref localClosed, 1) == 0)
        {
            try
            {
                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await SendAsync(TtrpcFlags.RemoteClosed | TtrpcFlags.NoData, ReadOnlyMemory<byte>.Empty, bound.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                // The connection is gone or stuck; the server learns of the end when it closes.
            }
        }
        Fail(new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "ttrpc: stream disposed")));
        await lifeRegistration.DisposeAsync().ConfigureAwait(false);
        life.Dispose();
    }

    /// <summary>A frame the server sent on this stream; called by the connection's receive loop only.</summary>
    internal async ValueTask ReceiveAsync(TtrpcFrame frame, TimeSpan fullTimeout, CancellationToken connectionToken)
    {
        if (frame.Type == TtrpcMessageType.Response)
        {
            Response response;
            try
            {
                response = Response.Parser.ParseFrom(frame.Payload.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                Fail(new RpcException(new Grpc.Core.Status(StatusCode.Internal, "ttrpc: malformed response envelope: " + e.Message)));
                return;
            }
            if (response.Status is { Code: not 0 } status)
            {
                Fail(new RpcException(new Grpc.Core.Status((StatusCode)status.Code, status.Message)));
                return;
            }
            // Go's client takes a successful Response as the stream's last message, whatever the kind.
            if (await DeliverAsync(response.Payload.Memory, fullTimeout, connectionToken).ConfigureAwait(false))
                End();
            return;
        }

        if (Kind == TtrpcStreamKind.ClientStreaming)
        {
            Fail(new RpcException(new Grpc.Core.Status(StatusCode.Internal, "received data from non-streaming server: protocol error")));
            return;
        }
        if (!frame.Flags.HasFlag(TtrpcFlags.NoData) && !await DeliverAsync(frame.Payload, fullTimeout, connectionToken).ConfigureAwait(false))
            return;
        if (frame.Flags.HasFlag(TtrpcFlags.RemoteClosed))
            End();
    }

    /// <summary>Ends the stream with <paramref name="error"/> unless it has ended already.</summary>
    internal void Fail(RpcException error)
    {
        if (Received.Complete(error))
            failure = error;
        client.Forget(StreamId);
    }

    private async ValueTask<bool> DeliverAsync(ReadOnlyMemory<byte> message, TimeSpan fullTimeout, CancellationToken connectionToken)
    {
        if (Received.TryDeliver(message))
            return true;
        // The reader is behind: wait for room, but not past the stream's end or the connection's.
        using var either = CancellationTokenSource.CreateLinkedTokenSource(lifeToken, connectionToken);
        var outcome = await Received.DeliverAsync(message, fullTimeout, either.Token).ConfigureAwait(false);
        if (outcome == TtrpcStreamBuffer.Outcome.Full)
            Fail(new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, "ttrpc: stream buffer full")));
        return outcome == TtrpcStreamBuffer.Outcome.Delivered;
    }

    private void End()
    {
        remoteEnded = true;
        Received.Complete();
        client.Forget(StreamId);
    }

    private async Task SendAsync(TtrpcFlags flags, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifeToken);
        try
        {
            await client.SendAsync(new TtrpcFrame(StreamId, TtrpcMessageType.Data, flags, payload), both.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lifeToken.IsCancellationRequested && failure is { } failed)
        {
            throw failed;
        }
    }
}
