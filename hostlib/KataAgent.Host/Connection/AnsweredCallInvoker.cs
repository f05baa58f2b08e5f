using Grpc.Core;

namespace KataAgent.Host;

/// <summary>
/// The gRPC channel's invoker as <see cref="AgentClient"/> hands it out: a message written to a call the agent has
/// already answered is dropped, as HTTP/2 says, instead of failing the write as <c>CANCELLED</c>; the answer (its
/// status) is what the call reports.
/// </summary>
/// <remarks>
/// <para>An agent that refuses a streaming call as it starts (a policy denial of Attach) answers at once: one HEADERS
/// frame with the status and END_STREAM, then RST_STREAM(NO_ERROR), by which a server that has answered asks the
/// client to stop sending the request without calling it an error (RFC 9113 §8.1). SocketsHttpHandler then abandons
/// the request body, and a write that is on its way fails as cancelled. Grpc.Net.Client reports that write as the
/// call's status if it has already read the status from the response, else as <c>CANCELLED</c> with no message; it
/// reads the response on another thread-pool continuation, so a client that writes first (the natural order: the
/// first message of Attach names the process) saw <c>CANCELLED</c> in about one run in four.</para>
/// <para>Its response headers do not help: Grpc.Net.Client completes them before it reads the status from them, on
/// the same thread, so a wait for them ends too early. What is known is the cause: a write cancelled while neither the
/// caller nor the call was cancelled and no status is known yet was abandoned by the server's answer. Such a write is
/// dropped (the answer made it moot, as a DATA frame that crosses a RST_STREAM on the wire is); the status reaches the
/// call's reads, its response and every later write, which Grpc.Net.Client fails with it once it has read it.</para>
/// <para>Unary and server-streaming calls have no request stream and go straight through, at no cost.</para>
/// </remarks>
internal sealed class AnsweredCallInvoker(CallInvoker inner) : CallInvoker
{
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        inner.BlockingUnaryCall(method, host, options, request);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        inner.AsyncUnaryCall(method, host, options, request);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        inner.AsyncServerStreamingCall(method, host, options, request);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = inner.AsyncClientStreamingCall(method, host, options);
        var writer = new AnsweredCallRequestWriter<TRequest>(call.RequestStream, call.GetStatus, call.GetTrailers, options.CancellationToken);
        // The state overload keeps the inner call's response headers lazy, as they are without this wrapper.
        return new AsyncClientStreamingCall<TRequest, TResponse>(writer, call.ResponseAsync,
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).ResponseHeadersAsync,
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).GetStatus(),
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).GetTrailers(),
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).Dispose(),
            call);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = inner.AsyncDuplexStreamingCall(method, host, options);
        var writer = new AnsweredCallRequestWriter<TRequest>(call.RequestStream, call.GetStatus, call.GetTrailers, options.CancellationToken);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(writer, call.ResponseStream,
            static state => ((AsyncDuplexStreamingCall<TRequest, TResponse>)state).ResponseHeadersAsync,
            static state => ((AsyncDuplexStreamingCall<TRequest, TResponse>)state).GetStatus(),
            static state => ((AsyncDuplexStreamingCall<TRequest, TResponse>)state).GetTrailers(),
            static state => ((AsyncDuplexStreamingCall<TRequest, TResponse>)state).Dispose(),
            call);
    }
}
