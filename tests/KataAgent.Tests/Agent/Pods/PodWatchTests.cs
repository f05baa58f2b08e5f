using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>WatchPod: the status now, then every change (gate, starts, exits), to PodDeleted; many watchers, over both protocols.</summary>
[Collection(HostMountTableCollection.Name)]
public class PodWatchTests
{
    [Fact]
    public async Task Watchers_get_the_current_status_then_gate_start_and_exit_events_until_the_pod_is_deleted()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await using var ttrpc = await agent.ConnectAsync(new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, ConnectTimeout = TimeSpan.FromSeconds(20) });
        var pods = PodRequests.Client(client.CallInvoker);
        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]), ("job", ["sh", "-c", "exit 5"]));
        request.StartGate = new StartGate { Args = { "/bin/sh", "-c", "echo ok" } };
        await pods.CreatePodAsync(request);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // A watcher that never reads does not hold anything up.
        using var idle = pods.WatchPod(new WatchPodRequest { PodId = podId }, cancellationToken: timeout.Token);
        using var overGrpc = pods.WatchPod(new WatchPodRequest { PodId = podId }, cancellationToken: timeout.Token);
        using var overTtrpc = PodRequests.Client(ttrpc.CallInvoker).WatchPod(new WatchPodRequest { PodId = podId }, cancellationToken: timeout.Token);

        // The status now: the gate, then each container.
        var first = await Take(overGrpc, 3, timeout.Token);
        first[0].Gate.State.Should().Be(GateStatus.Types.State.Pending);
        first.Skip(1).Select(e => (e.Container.Name, e.Container.State)).Should().Equal(("web", PodContainerStatus.Types.State.Created), ("job", PodContainerStatus.Types.State.Created));
        (await Take(overTtrpc, 3, timeout.Token)).Should().Equal(first);

        await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        var events = new List<PodEvent>();
        while (!events.Any(e => e.Container is { Name: "job", State: PodContainerStatus.Types.State.Exited }))
        {
            events.AddRange(await Take(overGrpc, 1, timeout.Token));
        }
        events.Where(e => e.Gate is not null).Select(e => e.Gate.State).Should().Equal(GateStatus.Types.State.Pending, GateStatus.Types.State.Passed);
        events.First(e => e.Gate is { State: GateStatus.Types.State.Passed }).Gate.Output.ToStringUtf8().Should().Be("ok\n");
        events.Should().Contain(e => e.Container != null && e.Container.Name == "web" && e.Container.State == PodContainerStatus.Types.State.Running && e.Container.StartedAt > 0);
        var exit = events.Last().Container;
        exit.ExitCode.Should().Be(5);
        exit.FinishedAt.Should().BeGreaterThanOrEqualTo(exit.StartedAt);
        exit.StartedAt.Should().BeGreaterThan(0);
        int gatePassed = events.FindIndex(e => e.Gate is { State: GateStatus.Types.State.Passed });
        int firstStart = events.FindIndex(e => e.Container is { State: PodContainerStatus.Types.State.Running or PodContainerStatus.Types.State.Exited });
        gatePassed.Should().BeLessThan(firstStart, "no container starts before the gate has passed");

        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId, GraceSeconds = 5 });
        var rest = new List<PodEvent>();
        while (await overGrpc.ResponseStream.MoveNext(timeout.Token))
        {
            rest.Add(overGrpc.ResponseStream.Current);
        }
        rest.Should().NotBeEmpty();
        rest.Last().KindCase.Should().Be(PodEvent.KindOneofCase.Deleted, "the stream ends after PodDeleted");
        rest.Should().Contain(e => e.Container != null && e.Container.Name == "web" && e.Container.State == PodContainerStatus.Types.State.Exited);

        var ttrpcRest = new List<PodEvent>();
        while (await overTtrpc.ResponseStream.MoveNext(timeout.Token))
        {
            ttrpcRest.Add(overTtrpc.ResponseStream.Current);
        }
        ttrpcRest.Last().KindCase.Should().Be(PodEvent.KindOneofCase.Deleted);

        // Watching a deleted pod is NOT_FOUND.
        using var late = pods.WatchPod(new WatchPodRequest { PodId = podId }, cancellationToken: timeout.Token);
        var notFound = await PodRequests.FailureOf(() => late.ResponseStream.MoveNext(timeout.Token));
        notFound.StatusCode.Should().Be(StatusCode.NotFound);
    }

    private static async Task<List<PodEvent>> Take(AsyncServerStreamingCall<PodEvent> call, int count, CancellationToken cancellationToken)
    {
        var taken = new List<PodEvent>();
        while (taken.Count < count)
        {
            (await call.ResponseStream.MoveNext(cancellationToken)).Should().BeTrue("the stream is still open");
            taken.Add(call.ResponseStream.Current);
        }
        return taken;
    }
}
