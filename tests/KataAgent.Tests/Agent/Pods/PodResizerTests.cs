using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.Pods;
using KataAgent.Tests.Agent.Hotplug;
using KataAgent.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>
/// UpdatePod's order against a sysfs tree whose kernel the test plays: limits are set after CPUs come online when
/// growing and before they go offline when shrinking, so every limit fits what the guest has at that moment.
/// </summary>
public class PodResizerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Growing_onlines_cpus_and_memory_before_the_limits_and_shrinking_sets_the_limits_before_offlining()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 2, offlineCpus: 2, onlineBlocks: 1, offlineBlocks: 2);
        using var proc = new TempDirectory();
        await File.WriteAllTextAsync(proc.File("meminfo"), "MemTotal:        2048000 kB\nMemFree:          100 kB\n");
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);
        var resizer = new PodResizer(hotplug, proc.Path);
        var seen = new List<(string Limit, string Online, bool BlockOnline)>();
        Action Limit(string name) => () => seen.Add((name, sysfs.OnlineList, sysfs.BlockOnline(2)));

        var grown = await resizer.ResizeAsync(4, onlineMemory: true, [Limit("a"), Limit("b")], CancellationToken.None);
        grown.Should().Be((4u, 2048000UL * 1024));
        seen.Should().Equal(("a", "0,1,2,3", true), ("b", "0,1,2,3", true));

        seen.Clear();
        var shrunk = await resizer.ResizeAsync(1, onlineMemory: false, [Limit("a")], CancellationToken.None);
        seen.Should().Equal([("a", "0,1,2,3", true)], "the limits are lowered while the CPUs are still online");
        shrunk.OnlineCpus.Should().Be(1);
        sysfs.OnlineList.Should().Be("0");
        Enumerable.Range(1, 3).Should().OnlyContain(cpu => !sysfs.CpuOnline(cpu), "the highest-numbered go first, and all three went");
    }

    [Fact]
    public async Task Offlining_takes_the_highest_cpus_first_and_cannot_go_below_the_boot_cpu()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 4, offlineCpus: 0);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        await hotplug.OfflineAsync(2, "vcpus", CancellationToken.None);
        sysfs.OnlineList.Should().Be("0,1");
        sysfs.CpuOnline(2).Should().BeFalse();
        sysfs.CpuOnline(3).Should().BeFalse();

        await hotplug.OfflineAsync(2, "vcpus", CancellationToken.None);
        sysfs.OnlineList.Should().Be("0,1", "two are online already");

        var zero = () => hotplug.OfflineAsync(0, "vcpus", CancellationToken.None);
        (await zero.Should().ThrowAsync<AgentException>()).Which.Field.Should().Be("vcpus");

        // cpu0 has no online file (x86's boot CPU): with it and cpu1 online, asking for 1 offlines cpu1 and no more.
        await hotplug.OfflineAsync(1, "vcpus", CancellationToken.None);
        sysfs.OnlineList.Should().Be("0");
    }
}
