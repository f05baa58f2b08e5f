using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>Our kataagent.v1 extensions over ttrpc 1.2 streams, and the unknown-method answer Kata's agent gives.</summary>
public class TtrpcStreamingTests
{
    [Fact]
    public async Task Attach_runs_over_a_ttrpc_duplex_stream()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var grpc = await agent.ConnectAsync();
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(DualProtocolTests.SocketPath(agent));
        await grpc.CreateContainerAsync(new CreateContainerRequest { ContainerId = "att", OCI = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "read line; echo got $line; echo oops >&2; exit 3"]) });

        await using var stream = await ttrpc.Client.OpenStreamAsync("kataagent.v1.Streaming", "Attach", TtrpcStreamKind.Duplex, timeout: TimeSpan.FromSeconds(60));
        await stream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = "att" } }.ToByteString());
        await new AgentService.AgentServiceClient(ttrpc).StartContainerAsync(new StartContainerRequest { ContainerId = "att" });
        await stream.WriteAsync(new AttachRequest { Stdin = ByteString.CopyFromUtf8("hello\n") }.ToByteString());
        await stream.WriteAsync(new AttachRequest { CloseStdin = new CloseStdin() }.ToByteString());

        string stdout = "", stderr = "";
        int? exit = null;
        while (await stream.ReadAsync() is { } payload)
        {
            var response = AttachResponse.Parser.ParseFrom(payload.Span);
            switch (response.KindCase)
            {
                case AttachResponse.KindOneofCase.Stdout: stdout += response.Stdout.ToStringUtf8(); break;
                case AttachResponse.KindOneofCase.Stderr: stderr += response.Stderr.ToStringUtf8(); break;
                case AttachResponse.KindOneofCase.Exit: exit = response.Exit.Status; break;
            }
        }
        stdout.Should().Be("got hello\n");
        stderr.Should().Be("oops\n");
        exit.Should().Be(3, "the stream ends after the exit status, with the server's Data[RemoteClosed]");

        // A first message that is not a start: the handler's failure is the stream's status, as over gRPC.
        await using var bad = await ttrpc.Client.OpenStreamAsync("kataagent.v1.Streaming", "Attach", TtrpcStreamKind.Duplex, timeout: TimeSpan.FromSeconds(30));
        await bad.WriteAsync(new AttachRequest { Stdin = ByteString.CopyFromUtf8("x") }.ToByteString());
        var read = async () => await bad.ReadAsync();
        var error = (await read.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.InvalidArgument);
        error.Status.Detail.Should().StartWith("start:");
        await grpc.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "att", Timeout = 10 });
    }

    [Fact]
    public async Task An_unknown_service_or_method_is_answered_as_Katas_agent_answers_it()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await (await agent.ConnectAsync()).DisposeAsync(); // wait until it serves
        await using var ttrpc = await UnaryTtrpcCallInvoker.ConnectUnixAsync(DualProtocolTests.SocketPath(agent));
        foreach (var (service, method) in new[] { ("grpc.AgentService", "NoSuchMethod"), ("grpc.NoSuchService", "Check") })
        {
            var call = () => ttrpc.Client.CallRawAsync(service, method, ByteString.Empty);
            var error = (await call.Should().ThrowAsync<RpcException>()).Which;
            error.StatusCode.Should().Be(StatusCode.InvalidArgument);
            error.Status.Detail.Should().Be($"/{service}/{method} does not exist");
        }
        (await new Health.HealthClient(ttrpc).CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }
}
