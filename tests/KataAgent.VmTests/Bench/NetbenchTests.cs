using System.Globalization;
using CliWrap;
using FluentAssertions;
using KataAgent.Testing.Network;
using Xunit;

namespace KataAgent.VmTests.Bench;

/// <summary>
/// The network benchmark's traffic tool (tests/KataAgent.Testing/Network/netbench.c) between the node and
/// pod namespaces of a CNI-like pod network, without a VM: the numbers the bench records come from a
/// client that moves and counts the bytes it is asked to, and fails when it cannot reach the server.
/// </summary>
public sealed class NetbenchTests : IDisposable
{
    private const int Port = 5201;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_client_measures_transfers_and_exchanges_with_the_server_in_the_pod_netns()
    {
        HostTools.Require("gcc", "gcc libc6-dev");
        string netbench = await Netbench.CompileAsync(_temp.File("netbench"));
        using var pod = new CniLikePodNetwork();
        var client = new NetbenchClient(netbench, pod.NodeName, CniLikePodNetwork.PodAddress, Port);
        using var stop = new CancellationTokenSource();
        var server = Cli.Wrap("ip").WithArguments(["netns", "exec", pod.PodName, netbench, "serve", Port.ToString(CultureInfo.InvariantCulture)])
            .WithValidation(CommandResultValidation.None).ExecuteAsync(stop.Token);
        try
        {
            await client.WaitAsync(TimeSpan.FromSeconds(30));

            // netbench exits non-zero (and the client throws) when the server's count differs from what was sent.
            (await client.TransferAsync("upload", 8 * 1024 * 1024)).Should().BePositive();
            (await client.TransferAsync("download", 8 * 1024 * 1024)).Should().BePositive();
            var roundTrips = await client.LatenciesAsync("rr", 100);
            roundTrips.Should().HaveCount(100).And.OnlyContain(us => us > 0);
            var connections = await client.LatenciesAsync("crr", 20);
            connections.Should().HaveCount(20).And.OnlyContain(us => us > 0);
        }
        finally
        {
            stop.Cancel();
            try
            {
                await server;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [Fact]
    public async Task Waiting_for_a_server_that_is_not_there_fails_with_netbenchs_reason()
    {
        HostTools.Require("gcc", "gcc libc6-dev");
        string netbench = await Netbench.CompileAsync(_temp.File("netbench"));
        using var pod = new CniLikePodNetwork();
        var client = new NetbenchClient(netbench, pod.NodeName, CniLikePodNetwork.PodAddress, Port);

        var waiting = () => client.WaitAsync(TimeSpan.FromSeconds(1));

        (await waiting.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*no answer within 1 s*");
    }
}
