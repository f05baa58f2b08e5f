using System.Diagnostics;
using FluentAssertions;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.Server;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.Agent.Hotplug;

/// <summary>OnlineCPUMem and MemHotplugByProbe against a sysfs tree whose kernel is played by the test.</summary>
public class GuestHotplugTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Offline_cpus_are_onlined_until_nb_cpus_are_online_in_all_and_memory_blocks_with_them()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 3, onlineBlocks: 2, offlineBlocks: 2);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        await hotplug.OnlineAsync(cpus: 3, cpuOnly: false, wait: true, CancellationToken.None);

        sysfs.CpuOnline(1).Should().BeTrue();
        sysfs.CpuOnline(2).Should().BeTrue();
        sysfs.CpuOnline(3).Should().BeFalse("three CPUs in all were asked for, the lowest offline ones first");
        sysfs.BlockOnline(2).Should().BeTrue();
        sysfs.BlockOnline(3).Should().BeTrue();
        sysfs.BlockState(2).Should().Be("online_movable", "hot-plugged memory goes to ZONE_MOVABLE, so the host can unplug it again");
        sysfs.BlockState(3).Should().Be("online_movable");
        File.ReadAllText(Path.Combine(sysfs.MemoryDirectory, "auto_online_blocks")).Should().Be("online_movable", "blocks that arrive later come online by themselves, movable");
    }

    [Fact]
    public async Task Cpu_only_leaves_memory_alone_and_enough_cpus_online_already_is_nothing_to_do()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 2, offlineCpus: 1, onlineBlocks: 1, offlineBlocks: 1);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        await hotplug.OnlineAsync(cpus: 2, cpuOnly: true, wait: true, CancellationToken.None);

        sysfs.CpuOnline(2).Should().BeFalse("two CPUs are online already, as a VMM that onlines CPUs itself leaves them");
        sysfs.BlockOnline(1).Should().BeFalse("cpu_only");
        File.ReadAllText(Path.Combine(sysfs.MemoryDirectory, "auto_online_blocks")).Should().Be("offline\n");

        await hotplug.OnlineAsync(cpus: 0, cpuOnly: false, wait: true, CancellationToken.None);
        sysfs.BlockOnline(1).Should().BeTrue();
        sysfs.CpuOnline(2).Should().BeFalse("nb_cpus 0 skips CPUs");
    }

    [Fact]
    public async Task With_wait_a_cpu_that_reaches_sysfs_late_is_waited_for_and_onlined()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 0);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        var call = hotplug.OnlineAsync(cpus: 2, cpuOnly: true, wait: true, CancellationToken.None);
        await Task.Delay(300);
        call.IsCompleted.Should().BeFalse("the hot-plugged CPU is not in sysfs yet");
        sysfs.AddCpu(1);
        await call.WaitAsync(TimeSpan.FromSeconds(10));

        sysfs.CpuOnline(1).Should().BeTrue();
        sysfs.OnlineList.Should().Be("0,1");
    }

    [Fact]
    public async Task A_cpu_that_never_comes_is_deadline_exceeded_naming_nb_cpus_and_the_count()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 1);
        var hotplug = new GuestHotplug(sysfs.Root, TimeSpan.FromMilliseconds(400), NullLogger.Instance);
        var clock = Stopwatch.StartNew();

        var call = async () => await hotplug.OnlineAsync(cpus: 4, cpuOnly: true, wait: true, CancellationToken.None);

        var error = (await call.Should().ThrowAsync<AgentException>()).Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.DeadlineExceeded);
        error.Field.Should().Be("nb_cpus");
        error.Problem.Should().Contain("2 of 4 online").And.Contain("0.4 s");
        clock.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(400));
        sysfs.CpuOnline(1).Should().BeTrue("what was there was onlined");
    }

    [Fact]
    public async Task Without_wait_the_call_returns_at_once_and_the_late_cpu_is_onlined_in_the_background()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 1);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        await hotplug.OnlineAsync(cpus: 3, cpuOnly: true, wait: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
        sysfs.CpuOnline(1).Should().BeTrue("the first pass runs before the call returns");
        sysfs.AddCpu(2);

        var clock = Stopwatch.StartNew();
        while (!sysfs.CpuOnline(2) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }
        sysfs.CpuOnline(2).Should().BeTrue();
    }

    [Fact]
    public void Probe_writes_each_address_as_Kata_does_and_checks_alignment_and_presence()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 0, probe: true);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        hotplug.Probe([0x1_C000_0000]);
        File.ReadAllText(sysfs.ProbeFile).Should().Be("0x1C0000000");

        var misaligned = () => hotplug.Probe([0x1_C000_0000, 0x1_C000_1000]);
        var error = misaligned.Should().Throw<AgentException>().Which;
        error.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        error.Field.Should().Be("memHotplugProbeAddr[1]");
        error.Problem.Should().Contain("0x8000000");

        var empty = () => hotplug.Probe([]);
        empty.Should().Throw<AgentException>().Which.Field.Should().Be("memHotplugProbeAddr");
    }

    [Fact]
    public void Without_a_probe_file_the_call_is_failed_precondition_naming_the_file()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 0, probe: false);
        var hotplug = new GuestHotplug(sysfs.Root, Deadline, NullLogger.Instance);

        var probe = () => hotplug.Probe([0x1_0000_0000]);

        var error = probe.Should().Throw<AgentException>().Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.FailedPrecondition);
        error.Message.Should().StartWith("memHotplugProbeAddr: ").And.Contain(sysfs.ProbeFile);
    }
}
