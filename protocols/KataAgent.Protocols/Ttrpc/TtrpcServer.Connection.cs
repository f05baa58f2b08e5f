using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

public sealed partial class TtrpcServer
{
    /// <summary>
    /// Serves one connection until the peer closes it or <paramref name="cancellationToken"/> fires, then cancels
    /// the calls still running and waits for them. When <paramref name="drain"/> fires first, the server stops
    /// reading (as Go's <c>Shutdown</c> stops a connection taking calls), lets the running calls finish and write
    /// their answers, and then returns: a graceful close that cuts nothing off. Open streams see their client's
    /// side as closed. The caller owns <paramref name="connection"/> and closes it.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">
    /// The peer sent bytes that are not ttrpc frames. An oversized frame is first answered on its stream with
    /// Go's ResourceExhausted status. Close this connection; the server goes on serving the others.
    /// </exception>
    public async Task ServeConnectionAsync(Stream connection, CancellationToken drain = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var connectionCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Reading stops on a drain too; the calls run on connectionCts, which only the end of the connection cancels.
        using var readCts = CancellationTokenSource.CreateLinkedTokenSource(connectionCts.Token, drain);
        bool drained = false;
        var reader = new TtrpcFrameReader(connection);
        var writer = new TtrpcFrameWriter(connection, connectionCts.Token);
        var streams = new ConcurrentDictionary<uint, TtrpcServerStream>();
        var running = new List<Task>();
        uint lastStreamId = 0;
        try
        {
            while (await reader.ReadAsync(readCts.Token).ConfigureAwait(false) is { } frame)
            {
                running.RemoveAll(t => t.IsCompleted);
                // Go checks this before the type: even ids belong to server-initiated streams, which nobody opens.
                if (frame.StreamId % 2 == 0)
                {
                    await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument,
                        "StreamID must be odd for client initiated streams").ConfigureAwait(false);
                    continue;
                }
                switch (frame.Type)
                {
                    case TtrpcMessageType.Request:
                        if (frame.StreamId <= lastStreamId)
                        {
                            await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument,
                                "StreamID cannot be re-used and must increment").ConfigureAwait(false);
                            break;
                        }
                        lastStreamId = frame.StreamId;
                        running.Add(Start(writer, frame, streams, connectionCts.Token));
                        break;
                    case TtrpcMessageType.Data:
                        await ReceiveDataAsync(writer, frame, streams, connectionCts.Token).ConfigureAwait(false);
                        break;
                    default:
                        // A response from a client means nothing to a server; Go ignores such frames too.
                        break;
                }
            }
        }
        catch (TtrpcProtocolException e) when (e.Oversized && e.StreamId is { } streamId)
        {
            await AnswerAsync(writer, streamId, StatusCode.ResourceExhausted, e.Message).ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException) when (drain.IsCancellationRequested && !connectionCts.IsCancellationRequested)
        {
            drained = true;
        }
        finally
        {
            if (!drained)
                await connectionCts.CancelAsync().ConfigureAwait(false);
            foreach (var stream in streams.Values)
                stream.Received.Complete();
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Decodes a request and starts serving it. Runs in the read loop, so a stream is registered before the loop
    /// reads the data frames that follow its request; the handler itself runs on the pool.
    /// </summary>
    private Task Start(TtrpcFrameWriter writer, TtrpcFrame frame, ConcurrentDictionary<uint, TtrpcServerStream> streams,
        CancellationToken connectionToken)
    {
        Request request;
        try
        {
            request = Request.Parser.ParseFrom(frame.Payload.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            return AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument, "unmarshal request error: " + e.Message);
        }
        if (Find(request, out var refusal) is not { } method)
            return AnswerAsync(writer, frame.StreamId, refusal.StatusCode, refusal.Detail);
        if (method.Unary is { } unary)
            return RunUnaryAsync(writer, frame.StreamId, request, unary, connectionToken);
        return StartStream(writer, frame, request, method, streams, connectionToken);
    }

    private async Task RunUnaryAsync(TtrpcFrameWriter writer, uint streamId, Request request,
        Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>> handler, CancellationToken connectionToken)
    {
        await Task.Yield(); // the read loop goes on at once; the handler runs on the pool
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
        var context = CallContext(request, callCts);

        var response = new Response();
        try
        {
            response.Payload = await handler(request.Payload.Memory, context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (callCts.IsCancellationRequested && !connectionToken.IsCancellationRequested)
        {
            response.Status = DeadlineExceeded();
        }
        catch (OperationCanceledException) when (connectionToken.IsCancellationRequested)
        {
            return; // the connection is gone: nobody to answer
        }
        catch (Exception e)
        {
            response.Status = StatusOf(e);
        }
        await RespondAsync(writer, streamId, response).ConfigureAwait(false);
    }

    /// <summary>The handler's view of a call; arms <paramref name="callCts"/> with the envelope's timeout.</summary>
    private static TtrpcCallContext CallContext(Request request, CancellationTokenSource callCts)
    {
        DateTime? deadline = null;
        if (request.TimeoutNano > 0)
        {
            var timeout = TimeSpan.FromTicks(request.TimeoutNano / TimeSpan.NanosecondsPerTick);
            deadline = DateTime.UtcNow + timeout;
            callCts.CancelAfter(timeout);
        }
        var metadata = request.Metadata.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)).ToArray();
        return new TtrpcCallContext(request.Service, request.Method, metadata, deadline, callCts.Token);
    }

    private Status StatusOf(Exception exception)
    {
        var status = mapError(exception);
        return new Status { Code = (int)status.StatusCode, Message = status.Detail };
    }

    private static Status DeadlineExceeded() =>
        new() { Code = (int)StatusCode.DeadlineExceeded, Message = "context deadline exceeded" };

    private static Task AnswerAsync(TtrpcFrameWriter writer, uint streamId, StatusCode code, string message) =>
        RespondAsync(writer, streamId, new Response { Status = new Status { Code = (int)code, Message = message } });

    private static async Task RespondAsync(TtrpcFrameWriter writer, uint streamId, Response response)
    {
        try
        {
            await writer.WriteAsync(streamId, TtrpcMessageType.Response, TtrpcFlags.None, response).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            // The reply is over the limit: the caller gets Go's status for it instead (ttrpc >= 1.2.6).
            await RespondAsync(writer, streamId, new Response
            {
                Status = new Status { Code = (int)e.StatusCode, Message = e.Status.Detail },
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away; the read loop sees it too and ends the connection.
        }
    }
}
