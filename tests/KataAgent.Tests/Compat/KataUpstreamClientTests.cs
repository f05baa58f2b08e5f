using System.Net.Sockets;
using FluentAssertions;
using Grpc.Net.Client;
using KataAgent.Tests.Infrastructure;
using Xunit;
using Upstream = KataUpstream.Grpc;

namespace KataAgent.Tests.Compat;

/// <summary>
/// Wire compatibility, proved with a client generated from Kata Containers' own .proto files
/// (KataUpstream/, not ours) and a plain Grpc.Net.Client channel: no code of the host library
/// is involved, so only the bytes on the wire are shared.
/// </summary>
public class KataUpstreamClientTests
{
    [Fact]
    public async Task A_client_generated_from_katas_protos_gets_correct_answers()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await (await agent.ConnectAsync()).DisposeAsync(); // wait until it serves
        string socketPath = agent.Address["unix://".Length..];
        using var channel = GrpcChannel.ForAddress("http://kata-agent", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            },
        });
        var health = new Upstream.Health.HealthClient(channel);
        var service = new Upstream.AgentService.AgentServiceClient(channel);

        var check = await health.CheckAsync(new Upstream.CheckRequest());
        check.Status.Should().Be(Upstream.HealthCheckResponse.Types.ServingStatus.Serving);

        var version = await health.VersionAsync(new Upstream.CheckRequest());
        version.GrpcVersion.Should().Be("0.0.1");
        version.AgentVersion.Should().MatchRegex(@"^\d+\.\d+\.\d+");

        var details = await service.GetGuestDetailsAsync(new Upstream.GuestDetailsRequest { MemBlockSize = true, MemHotplugProbe = true });
        details.AgentDetails.Version.Should().Be(version.AgentVersion);
        details.AgentDetails.InitDaemon.Should().BeFalse();
        string blockSizeFile = "/sys/devices/system/memory/block_size_bytes";
        ulong expected = File.Exists(blockSizeFile) ? Convert.ToUInt64(File.ReadAllText(blockSizeFile).Trim(), 16) : 0;
        details.MemBlockSizeBytes.Should().Be(expected);
        details.SupportMemHotplugProbe.Should().Be(File.Exists("/sys/devices/system/memory/probe"));

        var metrics = await service.GetMetricsAsync(new Upstream.GetMetricsRequest());
        metrics.Metrics_.Should().Contain("# TYPE kata_agent_scrape_count counter");
        Agent.MetricsCollectorTests.Value(metrics.Metrics_, "kata_guest_meminfo{item=\"mem_total\"}").Should().BeGreaterThan(0);

        // A Kata CreateContainer arrives intact: the agent reads its spec and names the missing field.
        var create = async () => await service.CreateContainerAsync(new Upstream.CreateContainerRequest { ContainerId = "c1", OCI = new Upstream.Spec { Version = "1.0.2", Process = new Upstream.Process { Args = { "true" }, Cwd = "/" }, Root = new Upstream.Root { Path = "/nonexistent/rootfs" } } });
        var error = (await create.Should().ThrowAsync<Grpc.Core.RpcException>()).Which;
        error.StatusCode.Should().Be(Grpc.Core.StatusCode.InvalidArgument);
        error.Status.Detail.Should().Be("OCI.Root.Path: the rootfs '/nonexistent/rootfs' does not exist");
    }
}
