using Grpc.Core;

namespace KataAgent.Tests.Agent.Errors;

/// <summary>The least a server interceptor needs of a call: its method name and a cancellation token.</summary>
public sealed class FakeServerCallContext(string method) : ServerCallContext
{
    protected override string MethodCore => method;

    protected override string HostCore => "localhost";

    protected override string PeerCore => "unix:test";

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => CancellationToken.None;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore { get; } = new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
