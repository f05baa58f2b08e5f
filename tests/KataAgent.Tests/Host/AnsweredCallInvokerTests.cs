using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>
/// <see cref="AnsweredCallInvoker"/> on its own, over a call whose write fails as Grpc.Net.Client fails it: which
/// failures are the agent's answer crossing the write (dropped, or the status once read) and which stay as they are.
/// The published agent's side of it is in RefusedStreamingCallTests.
/// </summary>
public sealed class AnsweredCallInvokerTests
{
    private static readonly Method<string, string> Duplex = new(MethodType.DuplexStreaming, "test.Service", "Duplex", Marshallers.StringMarshaller, Marshallers.StringMarshaller);
    private static readonly Method<string, string> ClientStreaming = new(MethodType.ClientStreaming, "test.Service", "Upload", Marshallers.StringMarshaller, Marshallers.StringMarshaller);
    private static readonly Status Refused = new(StatusCode.PermissionDenied, "Attach is blocked by policy");

    /// <summary>What Grpc.Net.Client throws when HTTP/2 cancelled the send under the write.</summary>
    private static RpcException SendCancelled() => new(new Status(StatusCode.Cancelled, string.Empty, new OperationCanceledException()));

    [Fact]
    public async Task A_write_the_answer_cancelled_is_dropped_while_the_status_is_unread_and_fails_with_it_once_read()
    {
        var fake = new FakeInvoker { WriteFailure = SendCancelled() };
        using var call = new AnsweredCallInvoker(fake).AsyncDuplexStreamingCall(Duplex, null, new CallOptions());

        await call.RequestStream.WriteAsync("start");
        fake.Writes.Should().Equal("start");

        fake.Status = Refused;
        var again = async () => await call.RequestStream.WriteAsync("more");
        var error = (await again.Should().ThrowAsync<RpcException>()).Which;
        error.Status.Should().Be(Refused);
        error.Trailers.Should().ContainSingle(t => t.Key == "who" && t.Value == "agent");
    }

    [Fact]
    public async Task The_same_holds_for_a_client_streaming_call()
    {
        var fake = new FakeInvoker { WriteFailure = SendCancelled() };
        using var call = new AnsweredCallInvoker(fake).AsyncClientStreamingCall(ClientStreaming, null, new CallOptions());

        await call.RequestStream.WriteAsync("chunk");
        fake.Status = Refused;
        (await ((Func<Task>)(() => call.RequestStream.WriteAsync("chunk"))).Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(Refused);
    }

    [Fact]
    public async Task A_caller_that_cancelled_the_write_or_the_call_still_sees_CANCELLED()
    {
        using var writeToken = new CancellationTokenSource();
        writeToken.Cancel();
        var fake = new FakeInvoker { WriteFailure = SendCancelled() };
        using var call = new AnsweredCallInvoker(fake).AsyncDuplexStreamingCall(Duplex, null, new CallOptions());
        (await ((Func<Task>)(() => call.RequestStream.WriteAsync("x", writeToken.Token))).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);

        using var callToken = new CancellationTokenSource();
        using var cancelledCall = new AnsweredCallInvoker(fake).AsyncDuplexStreamingCall(Duplex, null, new CallOptions(cancellationToken: callToken.Token));
        callToken.Cancel();
        (await ((Func<Task>)(() => cancelledCall.RequestStream.WriteAsync("x"))).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
    }

    [Fact]
    public async Task A_reset_or_a_lost_connection_is_not_taken_for_an_answer()
    {
        var reset = new RpcException(new Status(StatusCode.Cancelled, "reset", new HttpRequestException("The HTTP/2 server reset the stream. HTTP/2 error code 'CANCEL' (0x8).")));
        var fake = new FakeInvoker { WriteFailure = reset };
        using var call = new AnsweredCallInvoker(fake).AsyncDuplexStreamingCall(Duplex, null, new CallOptions());
        (await ((Func<Task>)(() => call.RequestStream.WriteAsync("x"))).Should().ThrowAsync<RpcException>()).Which.Should().BeSameAs(reset);

        fake.WriteFailure = new RpcException(new Status(StatusCode.Unavailable, "connection lost"));
        (await ((Func<Task>)(() => call.RequestStream.WriteAsync("x"))).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Everything_else_is_the_inner_call_s()
    {
        var fake = new FakeInvoker();
        var invoker = new AnsweredCallInvoker(fake);
        using var call = invoker.AsyncDuplexStreamingCall(Duplex, null, new CallOptions());

        await call.RequestStream.WriteAsync("a");
        call.RequestStream.WriteOptions = new WriteOptions(WriteFlags.NoCompress);
        await call.RequestStream.CompleteAsync();
        (await call.ResponseStream.MoveNext(CancellationToken.None)).Should().BeTrue();
        call.ResponseStream.Current.Should().Be("reply");
        (await call.ResponseHeadersAsync).Should().ContainSingle(h => h.Key == "h");
        fake.Status = Refused;
        call.GetStatus().Should().Be(Refused);
        call.GetTrailers().Should().ContainSingle(t => t.Key == "who");
        call.Dispose();

        fake.Writes.Should().Equal("a");
        fake.WriteOptions!.Flags.Should().Be(WriteFlags.NoCompress);
        fake.Completed.Should().BeTrue();
        fake.Disposed.Should().BeTrue();
        (await invoker.AsyncUnaryCall(Duplex, null, new CallOptions(), "q")).Should().Be("unary q");
    }

    /// <summary>A call invoker whose streaming calls behave as Grpc.Net.Client's do from the outside.</summary>
    private sealed class FakeInvoker : CallInvoker, IClientStreamWriter<string>, IAsyncStreamReader<string>
    {
        public RpcException? WriteFailure { get; set; }

        public Status? Status { get; set; }

        public List<string> Writes { get; } = [];

        public bool Completed { get; private set; }

        public bool Disposed { get; private set; }

        public WriteOptions? WriteOptions { get; set; }

        public string Current { get; private set; } = string.Empty;

        public Task WriteAsync(string message) => WriteAsync(message, CancellationToken.None);

        public Task WriteAsync(string message, CancellationToken cancellationToken)
        {
            Writes.Add(message);
            return WriteFailure is { } failure ? Task.FromException(failure) : Task.CompletedTask;
        }

        public Task CompleteAsync()
        {
            Completed = true;
            return Task.CompletedTask;
        }

        public Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            Current = "reply";
            return Task.FromResult(true);
        }

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            new((IClientStreamWriter<TRequest>)(object)this, (IAsyncStreamReader<TResponse>)(object)this, Task.FromResult(new Metadata { { "h", "v" } }), GetStatus, GetTrailers, () => Disposed = true);

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            new((IClientStreamWriter<TRequest>)(object)this, Task.FromResult((TResponse)(object)"done"), Task.FromResult(new Metadata()), GetStatus, GetTrailers, () => Disposed = true);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            new(Task.FromResult((TResponse)(object)("unary " + request)), Task.FromResult(new Metadata()), GetStatus, GetTrailers, () => { });

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        /// <summary>As Grpc.Net.Client: no status until the call is complete.</summary>
        private Status GetStatus() => Status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");

        private Metadata GetTrailers() => Status is null ? throw new InvalidOperationException("not complete") : new Metadata { { "who", "agent" } };
    }
}
