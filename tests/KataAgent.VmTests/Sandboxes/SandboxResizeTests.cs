using System.Globalization;
using FluentAssertions;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// <see cref="Sandbox.EnsureResourcesAsync"/> on qemu (TCG), one sandbox for all of it: a VM booted with 1 vCPU and
/// 512 MiB and room for 3 and 1024 MiB grows to what is asked, as a container in it sees (/proc/cpuinfo, MemTotal);
/// concurrent callers plug one DIMM for one need; a smaller request changes nothing; one beyond MaxCpus or
/// MaxMemoryMiB is refused naming the field and plugs nothing.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class SandboxResizeTests(ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1024 * 1024;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _temp = new();
    private int _runs;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Vcpus_and_memory_grow_to_what_is_asked_up_to_the_maximum_and_the_guest_sees_them()
    {
        HostTools.RequireQemu();
        string rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        await using var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(_temp.File("resize"), "resize",
            vm => vm with { Cpus = 1, MaxCpus = 3, MemoryMiB = 512, MaxMemoryMiB = 1024, MemorySlots = 4 }));
        output.WriteLine($"boot to ready: {sandbox.BootToReady.TotalSeconds:0.0} s");
        try
        {
            var (cpusBefore, memTotalBefore) = await GuestViewAsync(sandbox, rootfs);
            cpusBefore.Should().Be(1);

            var grown = await sandbox.EnsureResourcesAsync(3, 768);

            grown.Should().Be(new SandboxResources(Cpus: 3, MemoryMiB: 768, MaxCpus: 3, MaxMemoryMiB: 1024));
            // The DIMM's memory blocks reach the guest a moment after qemu plugs them; they come online by themselves.
            await WaitForMemTotalAsync(sandbox, memTotalBefore + 255 * MiB);
            var (cpusAfter, memTotalAfter) = await GuestViewAsync(sandbox, rootfs);
            output.WriteLine($"guest: {cpusBefore} -> {cpusAfter} CPUs, MemTotal {memTotalBefore / MiB} -> {memTotalAfter / MiB} MiB");
            cpusAfter.Should().Be(3, "both hot-plugged vCPUs are online, and /proc/cpuinfo lists online CPUs only");
            memTotalAfter.Should().BeGreaterThanOrEqualTo(memTotalBefore + 255 * MiB);

            // Two callers at once for the same need: serialized, the second finds it met.
            var both = await Task.WhenAll(sandbox.EnsureResourcesAsync(3, 1024), sandbox.EnsureResourcesAsync(2, 1000));
            both.Should().AllBeEquivalentTo(new SandboxResources(3, 1024, 3, 1024));
            (await sandbox.Vm.Qmp.ExecuteAsync("query-memory-devices")).GetArrayLength().Should().Be(2, "one DIMM for 768 MiB, one for 1024 MiB");

            (await sandbox.EnsureResourcesAsync(1, 512)).Should().Be(new SandboxResources(3, 1024, 3, 1024), "a resize never shrinks");

            var tooManyCpus = async () => await sandbox.EnsureResourcesAsync(4, 0);
            (await tooManyCpus.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxCpus");
            var tooMuchMemory = async () => await sandbox.EnsureResourcesAsync(0, 1025);
            (await tooMuchMemory.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxMemoryMiB");
            (await sandbox.Vm.Qmp.ExecuteAsync("query-memory-devices")).GetArrayLength().Should().Be(2, "a refused resize plugs nothing");

            string log = File.ReadAllText(sandbox.Vm.AgentLogPath);
            log.Should().Contain("onlined cpu1").And.Contain("onlined cpu2");
        }
        finally
        {
            await sandbox.DestroyAsync();
        }
    }

    /// <summary>Online CPUs (processor entries in /proc/cpuinfo) and MemTotal in bytes, as a container in the sandbox reads them.</summary>
    private async Task<(int Cpus, long MemTotal)> GuestViewAsync(Sandbox sandbox, string rootfs)
    {
        string id = "view" + (++_runs).ToString(CultureInfo.InvariantCulture);
        var spec = ContainerSpecs.Default(["sh", "-c", "grep -c ^processor /proc/cpuinfo; grep ^MemTotal: /proc/meminfo"], terminal: false);
        var container = await sandbox.CreateContainerAsync(id, rootfs, spec);
        try
        {
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            await container.StartAsync();
            (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
            string[] lines = (await stdout.WaitAsync(Limit)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            output.WriteLine($"{id}: {string.Join(" | ", lines)}");
            int cpus = int.Parse(lines[0], CultureInfo.InvariantCulture);
            long kib = long.Parse(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return (cpus, kib * 1024);
        }
        finally
        {
            await container.RemoveAsync();
            await container.DisposeAsync();
        }
    }

    /// <summary>Polls the agent's guest metrics (its /proc/meminfo MemTotal) until it reaches <paramref name="bytes"/>, for up to 30 s.</summary>
    private static async Task WaitForMemTotalAsync(Sandbox sandbox, long bytes)
    {
        const string prefix = "kata_guest_meminfo{item=\"mem_total\"} ";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            string metrics = (await sandbox.Agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_;
            string line = metrics.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture) >= bytes)
            {
                return;
            }
            await Task.Delay(200);
        }
    }
}
