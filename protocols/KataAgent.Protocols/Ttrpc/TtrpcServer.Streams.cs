using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

public sealed partial class TtrpcServer
{
    private const string StreamClosedError = "ttrpc: stream closed";
    private const string StreamFullError = "ttrpc: stream buffer full";

    /// <summary>Opens the server's end of a stream, registers it for its data frames and runs its handler.</summary>
    private Task StartStream(TtrpcFrameWriter writer, TtrpcFrame frame, Request request, TtrpcServerMethod method,
        ConcurrentDictionary<uint, TtrpcServerStream> streams, CancellationToken connectionToken)
    {
        var callCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
        var context = CallContext(request, callCts);
        var kind = method.Kind;
        var stream = new TtrpcServerStream(frame.StreamId, kind,
            kind == TtrpcStreamKind.ServerStreaming ? 1 : StreamBufferCapacity, writer, callCts);

        // The request's payload is the first message, except that a streaming client's empty one is none: an empty
        // message and no message both encode to nothing (ttrpc issue 126), and Go's client sends none.
        if (!request.Payload.IsEmpty || kind == TtrpcStreamKind.ServerStreaming)
            stream.Received.TryDeliver(request.Payload.Memory);
        // Only a request flagged RemoteOpen announces data frames (Go's client sets it exactly for streaming clients).
        bool clientSends = kind != TtrpcStreamKind.ServerStreaming
            && (frame.Flags & (TtrpcFlags.RemoteOpen | TtrpcFlags.RemoteClosed)) == TtrpcFlags.RemoteOpen;
        if (!clientSends)
            stream.Received.Complete();
        streams[frame.StreamId] = stream;
        return RunStreamAsync(writer, stream, context, method.Streaming!, callCts, streams, connectionToken);
    }

    private async Task RunStreamAsync(TtrpcFrameWriter writer, TtrpcServerStream stream, TtrpcCallContext context,
        Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>> handler, CancellationTokenSource callCts,
        ConcurrentDictionary<uint, TtrpcServerStream> streams, CancellationToken connectionToken)
    {
        await Task.Yield(); // the read loop goes on at once; the handler runs on the pool
        try
        {
            await ServeStreamAsync(writer, stream, context, handler, callCts, streams, connectionToken).ConfigureAwait(false);
        }
        finally
        {
            callCts.Dispose();
        }
    }

    private async Task ServeStreamAsync(TtrpcFrameWriter writer, TtrpcServerStream stream, TtrpcCallContext context,
        Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>> handler, CancellationTokenSource callCts,
        ConcurrentDictionary<uint, TtrpcServerStream> streams, CancellationToken connectionToken)
    {
        ByteString? result = null;
        Status? failure = null;
        try
        {
            result = await handler(stream, context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connectionToken.IsCancellationRequested)
        {
            return; // the connection is gone: nobody to answer
        }
        catch (OperationCanceledException) when (callCts.IsCancellationRequested)
        {
            failure = DeadlineExceeded(); // unless the stream was given up, which TryFinish tells below
        }
        catch (Exception e)
        {
            failure = StatusOf(e);
        }
        finally
        {
            stream.Received.Complete();
        }

        if (!stream.TryFinish())
            return; // given up by the read loop, which answered already
        streams.TryRemove(stream.StreamId, out _);
        if (failure is not null || stream.Kind == TtrpcStreamKind.ClientStreaming)
        {
            // Go answers a failure, and a client-streaming method's result, with a Response.
            await RespondAsync(writer, stream.StreamId, new Response { Status = failure, Payload = result ?? ByteString.Empty })
                .ConfigureAwait(false);
            return;
        }
        var flags = result is null ? TtrpcFlags.RemoteClosed | TtrpcFlags.NoData : TtrpcFlags.RemoteClosed;
        try
        {
            await writer.WriteAsync(new TtrpcFrame(stream.StreamId, TtrpcMessageType.Data, flags, (result ?? ByteString.Empty).Memory))
                .ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            await AnswerAsync(writer, stream.StreamId, e.StatusCode, e.Status.Detail).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away; the read loop sees it too and ends the connection.
        }
    }

    /// <summary>
    /// A data frame from the client: queued for its stream's handler, or the stream's end. A frame that breaks the
    /// stream's rules gives that stream up with Go's status; the connection and every other stream go on.
    /// </summary>
    private async Task ReceiveDataAsync(TtrpcFrameWriter writer, TtrpcFrame frame,
        ConcurrentDictionary<uint, TtrpcServerStream> streams, CancellationToken connectionToken)
    {
        if (!streams.TryGetValue(frame.StreamId, out var stream))
        {
            await AnswerAsync(writer, frame.StreamId, StatusCode.InvalidArgument, "StreamID is no longer active").ConfigureAwait(false);
            return;
        }
        bool closes = frame.Flags.HasFlag(TtrpcFlags.RemoteClosed);
        if (closes && !frame.Payload.IsEmpty)
        {
            await GiveUpAsync(writer, stream, streams, "data close message cannot include data").ConfigureAwait(false);
            return;
        }
        if (!frame.Flags.HasFlag(TtrpcFlags.NoData))
        {
            var outcome = await stream.Received.DeliverAsync(frame.Payload, StreamFullTimeout, connectionToken).ConfigureAwait(false);
            if (outcome != TtrpcStreamBuffer.Outcome.Delivered)
            {
                string cause = outcome == TtrpcStreamBuffer.Outcome.Full ? StreamFullError : StreamClosedError;
                await GiveUpAsync(writer, stream, streams, "data handling error: " + cause).ConfigureAwait(false);
                return;
            }
        }
        if (closes)
            stream.Received.Complete();
    }

    /// <summary>
    /// Ends a stream the client broke: it gets InvalidArgument <paramref name="message"/> on the stream, the handler
    /// is cancelled, and whatever the handler does afterwards is not sent.
    /// </summary>
    private static async Task GiveUpAsync(TtrpcFrameWriter writer, TtrpcServerStream stream,
        ConcurrentDictionary<uint, TtrpcServerStream> streams, string message)
    {
        if (!stream.TryFinish())
            return;
        streams.TryRemove(stream.StreamId, out _);
        stream.Received.Complete();
        stream.Cancel();
        await AnswerAsync(writer, stream.StreamId, StatusCode.InvalidArgument, message).ConfigureAwait(false);
    }
}
