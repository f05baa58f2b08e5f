using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containers;

/// <summary>kataagent.v1.Streaming/Attach against the published agent.</summary>
public class StreamingAttachTests
{
    [Fact]
    public async Task Attach_carries_stdin_stdout_stderr_and_the_exit_status_losslessly()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        (await client.Health.CheckAsync(new CheckRequest { Service = "kataagent.v1" })).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        var spec = ContainerSpecs.Default(rootfs.Path, ["sh", "-c", "cat; echo done >&2; seq 1 100000; exit 5"]);
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "s", OCI = spec });

        var streaming = new Streaming.StreamingClient(client.CallInvoker);
        using var call = streaming.Attach();
        await call.RequestStream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = "s" } });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = "s" });
        await call.RequestStream.WriteAsync(new AttachRequest { Stdin = ByteString.CopyFromUtf8("hello through attach\n") });
        await call.RequestStream.WriteAsync(new AttachRequest { CloseStdin = new CloseStdin() });

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        int? status = null;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            var response = call.ResponseStream.Current;
            switch (response.KindCase)
            {
                case AttachResponse.KindOneofCase.Stdout:
                    stdout.Append(response.Stdout.ToStringUtf8());
                    break;
                case AttachResponse.KindOneofCase.Stderr:
                    stderr.Append(response.Stderr.ToStringUtf8());
                    break;
                case AttachResponse.KindOneofCase.Exit:
                    status = response.Exit.Status;
                    break;
            }
        }

        status.Should().Be(5);
        stderr.ToString().Should().Be("done\n");
        string expected = "hello through attach\n" + string.Concat(Enumerable.Range(1, 100000).Select(i => $"{i}\n"));
        stdout.ToString().Should().Be(expected);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "s", Timeout = 10 });
    }

    [Fact]
    public async Task Attach_without_start_or_to_an_unknown_process_is_refused()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var streaming = new Streaming.StreamingClient(client.CallInvoker);

        using (var noStart = streaming.Attach())
        {
            await noStart.RequestStream.WriteAsync(new AttachRequest { Stdin = ByteString.CopyFromUtf8("x") });
            var read = async () => await noStart.ResponseStream.MoveNext(CancellationToken.None);
            var error = (await read.Should().ThrowAsync<RpcException>()).Which;
            error.StatusCode.Should().Be(StatusCode.InvalidArgument);
            error.Status.Detail.Should().StartWith("start:");
        }

        using var unknown = streaming.Attach();
        await unknown.RequestStream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = "nope" } });
        var readUnknown = async () => await unknown.ResponseStream.MoveNext(CancellationToken.None);
        (await readUnknown.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }
}
