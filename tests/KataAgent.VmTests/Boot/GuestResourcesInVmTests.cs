using System.Globalization;
using CliWrap;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Csi;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// Resources the host adds to a running guest, on a real qemu (TCG), one VM for all of them: a vCPU hot-plugged
/// through QMP and onlined by OnlineCPUMem, a pc-dimm onlined the same way, a blank disk made swap by AddSwap
/// (the agent writes the header), an ext4 volume grown online by ResizeVolume and an ephemeral tmpfs resized
/// by UpdateEphemeralMounts, each checked from the guest's own view (its metrics and statfs).
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class GuestResourcesInVmTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Hot_plugged_cpu_memory_swap_and_grown_volumes_reach_the_guest_through_the_agent()
    {
        HostTools.RequireQemu();
        string volumeImage = _temp.File("volume.img");
        await using (File.Create(volumeImage))
        {
        }
        await Cli.Wrap("mkfs.ext4").WithArguments(["-q", "-F", volumeImage, "16M"]).ExecuteAsync();
        await using (var stream = new FileStream(volumeImage, FileMode.Open))
        {
            stream.SetLength(64 * MiB);
        }
        string swapImage = _temp.File("swap.img");
        await File.WriteAllBytesAsync(swapImage, new byte[16 * MiB]);

        await using var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, _temp.File("vm"))) with
        {
            Cpus = 1,
            MaxCpus = 2,
            MemoryMiB = 512,
            MaxMemoryMiB = 1024,
            MemorySlots = 2,
            HotplugSlots = 2,
        });
        output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s");
        var agent = vm.Agent;

        // A vCPU: qemu adds it, the guest sees it offline, OnlineCPUMem brings it online.
        (await vm.AddCpuAsync()).Should().Be(2);
        await agent.OnlineCpusAndMemoryAsync(cpus: 2, cpuOnly: true, wait: true);
        string metrics = (await agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_;
        metrics.Should().Contain("kata_guest_cpu_time{cpu=\"1\",", "/proc/stat lists online CPUs only");
        var addAnother = async () => await vm.AddCpuAsync();
        (await addAnother.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxCpus");

        // Taking it out needs KVM: under TCG qemu 7.2 would lose the vCPU and crash on the next plug, so the unplug is
        // refused before qemu is asked and the VM keeps both vCPUs and keeps serving.
        if (!vm.CanUnplugCpus)
        {
            var remove = async () => await vm.RemoveCpuAsync();
            (await remove.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("needs KVM");
            (await addAnother.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxCpus", "the vCPU still holds its slot");
            (await agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_guest_cpu_time{cpu=\"1\",");
        }

        // A 128 MiB DIMM (one x86_64 memory block): its blocks reach sysfs after the call, and come online through auto_online_blocks.
        double before = Meminfo(metrics, "mem_total");
        await vm.AddMemoryAsync(128);
        await agent.OnlineCpusAndMemoryAsync(cpus: 0, cpuOnly: false, wait: true);
        double after = await WaitForAsync(async () => Meminfo((await agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_, "mem_total"), v => v >= before + 127 * MiB);
        output.WriteLine($"mem_total {before / MiB:0} MiB -> {after / MiB:0} MiB");
        after.Should().BeGreaterThanOrEqualTo(before + 127 * MiB);

        // A blank disk made swap: no mkswap anywhere.
        string swapPath = await vm.AddDiskAsync(new QemuDisk(swapImage));
        await agent.AddSwapDeviceAsync(swapPath);
        Meminfo((await agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_, "swap_total").Should().BeGreaterThan(15 * MiB);
        File.ReadAllBytes(swapImage).AsSpan(Environment.SystemPageSize - 10, 10).ToArray().Should().Equal("SWAPSPACE2"u8.ToArray());

        // A direct-assigned ext4 volume (16 MiB filesystem on a 64 MiB disk) and an ephemeral tmpfs, mounted as Kata's runtime mounts them.
        string volumePath = await vm.AddDiskAsync(new QemuDisk(volumeImage));
        const string volume = "/run/kata-containers/sandbox/storage/vol1";
        const string ephemeral = "/run/kata-containers/sandbox/ephemeral/e1";
        var sandbox = new CreateSandboxRequest { Hostname = "resources", SandboxId = "resources" };
        sandbox.Storages.Add(new Storage { Driver = "blk", Source = volumePath, Fstype = "ext4", MountPoint = volume, Shared = true });
        sandbox.Storages.Add(new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", MountPoint = ephemeral, Options = { "size=4m" } });
        await agent.CreateSandboxAsync(sandbox);

        ulong small = Bytes(await agent.GetVolumeStatisticsAsync(volume)).Total;
        await agent.GrowVolumeAsync(volume, (ulong)(48 * MiB));
        ulong grown = Bytes(await agent.GetVolumeStatisticsAsync(volume)).Total;
        output.WriteLine($"volume {small / (double)MiB:0.0} MiB -> {grown / (double)MiB:0.0} MiB");
        small.Should().BeLessThan((ulong)(16 * MiB));
        grown.Should().BeGreaterThan((ulong)(40 * MiB)).And.BeLessThanOrEqualTo((ulong)(48 * MiB));

        Bytes(await agent.GetVolumeStatisticsAsync(ephemeral)).Total.Should().Be((ulong)(4 * MiB));
        await agent.ResizeEphemeralMountAsync(ephemeral, (ulong)(12 * MiB));
        Bytes(await agent.GetVolumeStatisticsAsync(ephemeral)).Total.Should().Be((ulong)(12 * MiB));

        string log = File.ReadAllText(vm.AgentLogPath);
        output.WriteLine(string.Join('\n', log.Split('\n').Where(l => l.Contains("onlined", StringComparison.Ordinal) || l.Contains("swap on", StringComparison.Ordinal))));
        log.Should().Contain("onlined cpu1", "a hot-plugged CPU stays offline until someone onlines it");
        log.Should().Contain("header written by the agent");
        log.Should().Contain("memory hot-plugged from now on comes online by itself", "Debian's kernel leaves hot-plugged memory offline");
    }

    private static VolumeUsage Bytes(VolumeStatsResponse stats) => stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes);

    /// <summary>kata_guest_meminfo{item="ITEM"} from a metrics text, in bytes.</summary>
    private static double Meminfo(string metrics, string item)
    {
        string prefix = $"kata_guest_meminfo{{item=\"{item}\"}} ";
        string line = metrics.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    private static async Task<double> WaitForAsync(Func<Task<double>> read, Func<double, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        double value = await read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            value = await read();
        }
        return value;
    }
}
