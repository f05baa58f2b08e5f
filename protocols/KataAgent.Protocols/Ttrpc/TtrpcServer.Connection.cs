using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

public sealed partial class TtrpcServer
{
    /// <summary>
    /// Serves one connection until the peer closes it or <paramref name="cancellationToken"/> fires, then cancels
    /// the calls still running and waits for them. The caller owns <paramref name="connection"/> and closes it.
    /// </summary>
    /// <exception cref="TtrpcProtocolException">
    /// The peer sent bytes that are not ttrpc frames. An oversized frame is first answered on its stream with
    /// Go's ResourceExhausted status. Close this connection; the server goes on serving the others.
    /// </exception>
    public async Task ServeConnectionAsync(Stream connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var reader = new TtrpcFrameReader(connection);
        var writer = new TtrpcFrameWriter(connection);
        using var connectionCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task>();
        uint lastStreamId = 0;
        try
        {
            while (await reader.ReadAsync(connectionCts.Token).ConfigureAwait(false) is { } frame)
            {
                running.RemoveAll(t => t.IsCompleted);
                switch (frame.Type)
                {
                    case TtrpcMessageType.Request:
                        if (frame.StreamId % 2 == 0)
                        {
                            await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument,
                                "StreamID must be odd for client initiated streams").ConfigureAwait(false);
                            break;
                        }
                        if (frame.StreamId <= lastStreamId)
                        {
                            await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument,
                                "StreamID cannot be re-used and must increment").ConfigureAwait(false);
                            break;
                        }
                        lastStreamId = frame.StreamId;
                        running.Add(DispatchAsync(writer, frame, connectionCts.Token));
                        break;
                    case TtrpcMessageType.Data:
                        // No streams are ever open here, so every data frame is for a stream Go would call inactive.
                        await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument,
                            "StreamID is no longer active").ConfigureAwait(false);
                        break;
                    default:
                        // A response from a client means nothing to a server; Go 1.1 ignores such frames too.
                        break;
                }
            }
        }
        catch (TtrpcProtocolException e) when (e.Oversized && e.StreamId is { } streamId)
        {
            await AnswerAsync(writer, streamId, StatusCode.ResourceExhausted, e.Message).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await connectionCts.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    private async Task DispatchAsync(TtrpcFrameWriter writer, TtrpcFrame frame, CancellationToken connectionToken)
    {
        await Task.Yield(); // the read loop goes on at once; the handler runs on the pool
        Request request;
        try
        {
            request = Request.Parser.ParseFrom(frame.Payload.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument, "unmarshal request error: " + e.Message)
                .ConfigureAwait(false);
            return;
        }

        if (!services.ContainsKey(request.Service))
        {
            await AnswerAsync(writer, frame.StreamId, StatusCode.Unimplemented, "service " + request.Service).ConfigureAwait(false);
            return;
        }
        if (!methods.TryGetValue(request.Service + "/" + request.Method, out var handler))
        {
            await AnswerAsync(writer, frame.StreamId, StatusCode.Unimplemented, "method " + request.Method).ConfigureAwait(false);
            return;
        }
        if (frame.Flags != TtrpcFlags.None)
        {
            await AnswerAsync(writer, frame.StreamId, StatusCode.Unimplemented,
                $"method {request.Method} is unary: ttrpc streams are not served here").ConfigureAwait(false);
            return;
        }

        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
        DateTime? deadline = null;
        if (request.TimeoutNano > 0)
        {
            var timeout = TimeSpan.FromTicks(request.TimeoutNano / TimeSpan.NanosecondsPerTick);
            deadline = DateTime.UtcNow + timeout;
            callCts.CancelAfter(timeout);
        }
        var metadata = request.Metadata.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)).ToArray();
        var context = new TtrpcCallContext(request.Service, request.Method, metadata, deadline, callCts.Token);

        var response = new Response();
        try
        {
            response.Payload = await handler(request.Payload.Memory, context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (callCts.IsCancellationRequested && !connectionToken.IsCancellationRequested)
        {
            response.Status = new Status { Code = (int)StatusCode.DeadlineExceeded, Message = "context deadline exceeded" };
        }
        catch (OperationCanceledException) when (connectionToken.IsCancellationRequested)
        {
            return; // the connection is gone: nobody to answer
        }
        catch (Exception e)
        {
            var status = mapError(e);
            response.Status = new Status { Code = (int)status.StatusCode, Message = status.Detail };
        }
        await RespondAsync(writer, frame.StreamId, response).ConfigureAwait(false);
    }

    private static Task AnswerAsync(TtrpcFrameWriter writer, uint streamId, StatusCode code, string message) =>
        RespondAsync(writer, streamId, new Response { Status = new Status { Code = (int)code, Message = message } });

    private static async Task RespondAsync(TtrpcFrameWriter writer, uint streamId, Response response)
    {
        try
        {
            await writer.WriteAsync(new TtrpcFrame(streamId, TtrpcMessageType.Response, TtrpcFlags.None, response.ToByteArray()))
                .ConfigureAwait(false);
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
