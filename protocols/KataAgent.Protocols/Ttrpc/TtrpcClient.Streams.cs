using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

public sealed partial class TtrpcClient
{
    private readonly ConcurrentDictionary<uint, TtrpcClientStream> streams = new();

    /// <summary>
    /// How long the receive loop waits for a stream's reader to make room in its full buffer before it fails that
    /// stream with ResourceExhausted "ttrpc: stream buffer full" (Go's client: 5 s).
    /// </summary>
    internal TimeSpan StreamFullTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Opens a ttrpc 1.2 stream: sends the Request (flag RemoteOpen when the client streams, RemoteClosed when only
    /// the server does) and returns the client's end of it.
    /// </summary>
    /// <param name="service">The full protobuf service name.</param>
    /// <param name="method">The method name.</param>
    /// <param name="kind">Which sides stream; must match the server's registration.</param>
    /// <param name="request">
    /// The Request's payload: the one request of a server-streaming method; for the others a first message, or null
    /// for none (an empty message cannot be told from none, so send it with <see cref="TtrpcClientStream.WriteAsync"/>).
    /// </param>
    /// <param name="timeout">The whole stream's deadline, sent as <c>timeout_nano</c> too. Null for none.</param>
    /// <param name="metadata">Request metadata (keys lower-cased). Go's client sends none on streams; servers accept it.</param>
    /// <param name="cancellationToken">Ends the stream (Cancelled) when it fires, now or later.</param>
    public async Task<TtrpcClientStream> OpenStreamAsync(
        string service, string method, TtrpcStreamKind kind, ByteString? request = null, TimeSpan? timeout = null,
        IEnumerable<KeyValuePair<string, string>>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a ttrpc stream kind");
        if (timeout is { } t && t <= TimeSpan.Zero)
            throw new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded"));

        var envelope = Envelope(service, method, request ?? ByteString.Empty, timeout, metadata);
        var life = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
            life.CancelAfter(limit);
        var lifeToken = life.Token;
        TtrpcClientStream? stream = null;
        try
        {
            var flags = kind == TtrpcStreamKind.ServerStreaming ? TtrpcFlags.RemoteClosed : TtrpcFlags.RemoteOpen;
            await SendRequestAsync(envelope, flags, id =>
            {
                stream = new TtrpcClientStream(this, id, kind, life, cancellationToken);
                streams[id] = stream;
            }, lifeToken).ConfigureAwait(false);
            return stream!;
        }
        catch (Exception e)
        {
            var failure = e as RpcException ?? (cancellationToken.IsCancellationRequested
                ? new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "context canceled"))
                : new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded")));
            if (stream is not null)
            {
                stream.Fail(failure);
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                life.Dispose();
            }
            throw failure;
        }
    }

    /// <summary>Writes one frame; a broken connection is Unavailable "ttrpc: closed".</summary>
    internal async Task SendAsync(TtrpcFrame frame, CancellationToken cancellationToken)
    {
        if (closed)
            throw Closed(null);
        try
        {
            await writer.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException
            || (e is OperationCanceledException && closing.IsCancellationRequested))
        {
            throw Closed(e);
        }
    }

    /// <summary>Drops a stream that has ended: later frames on its id are ignored, as Go ignores them.</summary>
    internal void Forget(uint streamId) => streams.TryRemove(streamId, out _);
}
