using FluentAssertions;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Agent.Hotplug;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>
/// UpdatePod on the published agent: CPUs onlined and offlined in a sysfs tree whose kernel the test plays
/// (KATA_AGENT_SYSFS_ROOT; real CPU hot-plug needs a VM, tested through the host library), and a container's cgroup
/// limits set through UpdateContainer's path in the host's real cgroup2 hierarchy (hugetlb is the controller it
/// offers on these hybrid hosts).
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class PodUpdateTests
{
    [Fact]
    public async Task UpdatePod_onlines_cpus_sets_the_containers_limits_and_offlines_cpus_above_the_count()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 3, onlineBlocks: 1, offlineBlocks: 1);
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();
        var pods = PodRequests.Client(client.CallInvoker);
        string podId = PodRequests.NewId();
        await pods.CreatePodAsync(PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]), ("side", ["sleep", "300"])));
        await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        string limitFile = Path.Combine(PodRequests.CgroupOf($"{podId}-web"), "hugetlb.2MB.max");
        ulong memTotal = MemTotal();

        var grown = await pods.UpdatePodAsync(new UpdatePodRequest
        {
            PodId = podId,
            Vcpus = 3,
            OnlineMemory = true,
            Containers = { new ContainerResources { ContainerId = $"{podId}-web", Resources = HugePages(4 << 21) } },
        });
        grown.OnlineCpus.Should().Be(3);
        sysfs.OnlineList.Should().Be("0,1,2");
        sysfs.BlockOnline(1).Should().BeTrue("hot-plugged memory is onlined");
        grown.MemTotalBytes.Should().Be(memTotal, "MemTotal is the agent's /proc/meminfo");
        File.ReadAllText(limitFile).Trim().Should().Be((4 << 21).ToString());
        File.ReadAllText(Path.Combine(PodRequests.CgroupOf($"{podId}-side"), "hugetlb.2MB.max")).Trim().Should().Be("max", "containers not named keep their limits");

        var shrunk = await pods.UpdatePodAsync(new UpdatePodRequest
        {
            PodId = podId,
            Vcpus = 1,
            Containers = { new ContainerResources { ContainerId = $"{podId}-web", Resources = HugePages(1 << 21) } },
        });
        shrunk.OnlineCpus.Should().Be(1);
        sysfs.OnlineList.Should().Be("0");
        sysfs.CpuOnline(3).Should().BeFalse();
        File.ReadAllText(limitFile).Trim().Should().Be((1 << 21).ToString());

        var stranger = await PodRequests.FailureOf(() => pods.UpdatePodAsync(new UpdatePodRequest { PodId = podId, Containers = { new ContainerResources { ContainerId = "not-ours", Resources = HugePages(1 << 21) } } }).ResponseAsync);
        stranger.StatusCode.Should().Be(StatusCode.NotFound);
        stranger.Status.Detail.Should().StartWith("containers[0].container_id:");
        var noResources = await PodRequests.FailureOf(() => pods.UpdatePodAsync(new UpdatePodRequest { PodId = podId, Containers = { new ContainerResources { ContainerId = $"{podId}-web" } } }).ResponseAsync);
        noResources.StatusCode.Should().Be(StatusCode.InvalidArgument);
        noResources.Status.Detail.Should().StartWith("containers[0].resources:");
        (await pods.UpdatePodAsync(new UpdatePodRequest { PodId = podId, Vcpus = 1 })).OnlineCpus.Should().Be(1, "asking for what the guest has changes nothing");
        sysfs.OnlineList.Should().Be("0");

        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId });
    }

    private static LinuxResources HugePages(ulong limit) => new() { HugepageLimits = { new LinuxHugepageLimit { Pagesize = "2MB", Limit = limit } } };

    private static ulong MemTotal() =>
        ulong.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
