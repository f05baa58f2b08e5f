using FluentAssertions;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Server;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;
using Xunit;

namespace KataAgent.Tests.Agent.Errors;

/// <summary>The gRPC end of the mapping: what a handler lets escape becomes a status, logged once.</summary>
public class RpcErrorInterceptorTests
{
    private const string Method = "/grpc.AgentService/GetMetrics";

    [Fact]
    public async Task A_handler_that_throws_an_unclassified_exception_answers_INTERNAL_with_its_message_logged_once()
    {
        var logger = new RecordingLogger<RpcErrorInterceptor>();
        var interceptor = new RpcErrorInterceptor(logger);

        var call = () => interceptor.UnaryServerHandler<GetMetricsRequest, Metrics>(new GetMetricsRequest(), new FakeServerCallContext(Method),
            (_, _) => throw new InvalidOperationException("collection was modified"));

        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.Internal);
        error.Status.Detail.Should().Be("grpc.AgentService/GetMetrics: InvalidOperationException: collection was modified");
        var entry = logger.Entries.Should().ContainSingle().Which;
        entry.Level.Should().Be(LogLevel.Error);
        entry.Exception.Should().BeOfType<InvalidOperationException>();
    }

    [Fact]
    public async Task The_next_call_after_an_unclassified_failure_is_served()
    {
        var interceptor = new RpcErrorInterceptor(new RecordingLogger<RpcErrorInterceptor>());
        var failing = () => interceptor.UnaryServerHandler<GetMetricsRequest, Metrics>(new GetMetricsRequest(), new FakeServerCallContext(Method),
            (_, _) => throw new NullReferenceException());
        await failing.Should().ThrowAsync<RpcException>();

        var metrics = await interceptor.UnaryServerHandler<GetMetricsRequest, Metrics>(new GetMetricsRequest(), new FakeServerCallContext(Method),
            (_, _) => Task.FromResult(new Metrics { Metrics_ = "ok" }));

        metrics.Metrics_.Should().Be("ok");
    }

    [Fact]
    public async Task An_agent_exception_answers_the_status_of_its_kind_with_the_field_first()
    {
        var interceptor = new RpcErrorInterceptor(new RecordingLogger<RpcErrorInterceptor>());

        var call = () => interceptor.UnaryServerHandler<StartContainerRequest, Empty>(new StartContainerRequest(), new FakeServerCallContext("/grpc.AgentService/StartContainer"),
            (_, _) => throw AgentException.FailedPrecondition("container_id", "container 'web' is running, not created"));

        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        error.Status.Detail.Should().Be("container_id: container 'web' is running, not created");
    }

    [Fact]
    public async Task A_streaming_handler_gets_the_same_mapping()
    {
        var logger = new RecordingLogger<RpcErrorInterceptor>();
        var interceptor = new RpcErrorInterceptor(logger);

        var call = () => interceptor.DuplexStreamingServerHandler<AttachRequest, AttachResponse>(null!, null!, new FakeServerCallContext("/kataagent.v1.Streaming/Attach"),
            (_, _, _) => throw new InvalidOperationException("boom"));

        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.Internal);
        error.Status.Detail.Should().Be("kataagent.v1.Streaming/Attach: InvalidOperationException: boom");
        logger.Entries.Should().ContainSingle();
    }

    [Fact]
    public async Task A_method_the_service_does_not_override_answers_UNIMPLEMENTED_naming_itself()
    {
        var interceptor = new RpcErrorInterceptor(new RecordingLogger<RpcErrorInterceptor>());

        // What a generated base class throws for a method the service leaves out (an RPC added to the proto later).
        var call = () => interceptor.UnaryServerHandler<GetMetricsRequest, Metrics>(new GetMetricsRequest(), new FakeServerCallContext(Method),
            (_, _) => throw new RpcException(new Status(StatusCode.Unimplemented, "")));

        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.Unimplemented);
        error.Status.Detail.Should().Be($"grpc.AgentService/GetMetrics is not implemented by kata-agent {KataAgent.Agent.AgentVersion.Agent}");
    }
}
