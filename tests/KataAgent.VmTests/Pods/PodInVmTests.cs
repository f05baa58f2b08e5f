using FluentAssertions;
using KataAgent.Host.Pods;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Extensions;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Pods;

/// <summary>
/// One pod on qemu (TCG) for the whole class, made by <see cref="Pod.CreateAsync"/> in one CreatePod: two busybox
/// containers with requests and limits sharing an emptyDir (medium: Memory). Both run and share the volume; the VM has the
/// size the formula gives (requests plus the overhead at boot, limits plus the overhead as headroom) and the guest
/// sees it; a resize up then down changes nproc, MemTotal and the containers' cgroup limits in the guest.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class PodInVmTests(PodInVmTests.PodFixture fixture, ITestOutputHelper output) : IClassFixture<PodInVmTests.PodFixture>
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Both_containers_run_and_share_the_emptyDir()
    {
        var pod = fixture.Pod;
        var status = await pod.GetStatusAsync();
        status.Containers.Select(c => (c.Name, c.State)).Should().Equal(("writer", PodContainerStatus.Types.State.Running), ("reader", PodContainerStatus.Types.State.Running));

        await PodGuestView.ExecAsync(pod["writer"], "echo from-writer > /data/message");

        (await PodGuestView.ExecAsync(pod["reader"], "cat /data/message")).Should().Be("from-writer\n");
        (await PodGuestView.ExecAsync(pod["reader"], "grep ' /data ' /proc/mounts | cut -d' ' -f3")).Should().Be("tmpfs\n", "medium: Memory is a tmpfs in guest memory");
    }

    [Fact]
    public async Task The_vm_and_the_guest_have_the_size_the_formula_gives()
    {
        var pod = fixture.Pod;
        // Overhead 1 vCPU and 256 MiB; requests 2 × 500m and 2 × 64 Mi; limits 2 × 1 CPU and 2 × 128 Mi; cap 4 vCPUs.
        var size = await pod.Sandbox.EnsureResourcesAsync(0, 0);
        size.Should().Be(new Host.Sandboxes.SandboxResources(Cpus: 2, MemoryMiB: 384, MaxCpus: 3, MaxMemoryMiB: 512));

        var (cpus, memTotal) = await PodGuestView.SizeAsync(pod["writer"]);
        output.WriteLine($"guest: nproc {cpus}, MemTotal {memTotal / MiB} MiB");
        cpus.Should().Be(2);
        memTotal.Should().BeInRange(256 * MiB, 384 * MiB, "MemTotal is the boot RAM less what the kernel reserves");
        (await PodGuestView.LimitsAsync(pod["writer"])).Should().Be(("100000 100000", (128 * MiB).ToString()), "limits.cpu 1 is a 100 ms quota per 100 ms; limits.memory 128 Mi is memory.max");
    }

    [Fact]
    public async Task A_resize_up_then_down_changes_nproc_memtotal_and_the_containers_limits()
    {
        var pod = fixture.Pod;
        var writer = pod["writer"];
        var (cpus0, mem0) = await PodGuestView.SizeAsync(writer);

        var up = await pod.ResizeAsync(3, 512, new Dictionary<string, PodResources>
        {
            ["writer"] = new() { CpuRequestMilli = 500, CpuLimitMilli = 2000, MemoryRequestBytes = 64 * MiB, MemoryLimitBytes = 200 * MiB },
        });

        up.Cpus.Should().Be(3);
        up.MemoryMiB.Should().Be(512);
        var grown = await PodGuestView.WaitForSizeAsync(writer, s => s.MemTotal >= mem0 + 127 * MiB);
        output.WriteLine($"up: nproc {cpus0} -> {grown.Cpus}, MemTotal {mem0 / MiB} -> {grown.MemTotal / MiB} MiB");
        grown.Cpus.Should().Be(3);
        grown.MemTotal.Should().BeGreaterThanOrEqualTo(mem0 + 127 * MiB);
        (await PodGuestView.LimitsAsync(writer)).Should().Be(("200000 100000", (200 * MiB).ToString()));
        (await PodGuestView.LimitsAsync(pod["reader"])).Should().Be(("100000 100000", (128 * MiB).ToString()), "a container not named keeps its limits");

        Host.Sandboxes.SandboxResources down;
        try
        {
            down = await pod.ResizeAsync(2, 384, new Dictionary<string, PodResources>
            {
                ["writer"] = new() { CpuRequestMilli = 500, CpuLimitMilli = 1000, MemoryRequestBytes = 64 * MiB, MemoryLimitBytes = 128 * MiB },
            });
        }
        catch (VmException)
        {
            output.WriteLine("console: " + string.Join('\n', File.ReadAllLines(pod.Sandbox.Vm.ConsoleLogPath).TakeLast(30)));
            output.WriteLine("agent: " + string.Join('\n', File.ReadAllLines(pod.Sandbox.Vm.AgentLogPath).TakeLast(30)));
            throw;
        }

        down.Cpus.Should().Be(3, "the hot-plugged vCPU is offline in the guest and stays plugged (docs/PODS.md \"Resizing\")");
        down.MemoryMiB.Should().Be(384, "the DIMM was given up by the guest (its memory was movable) and unplugged");
        (await pod.Sandbox.Vm.QueryDimmsAsync()).Should().BeEmpty();
        var shrunk = await PodGuestView.SizeAsync(writer);
        output.WriteLine($"down: nproc {shrunk.Cpus}, MemTotal {shrunk.MemTotal / MiB} MiB");
        shrunk.Cpus.Should().Be(2);
        shrunk.MemTotal.Should().Be(mem0, "the guest is back to its boot memory");
        (await PodGuestView.LimitsAsync(writer)).Should().Be(("100000 100000", (128 * MiB).ToString()));

        // Up again: the offline vCPU is onlined, none is plugged.
        (await pod.ResizeAsync(3, 384)).Cpus.Should().Be(3);
        (await PodGuestView.SizeAsync(writer)).Cpus.Should().Be(3);
        await pod.ResizeAsync(2, 384);
        (await PodGuestView.SizeAsync(writer)).Cpus.Should().Be(2);

        var belowBoot = async () => await pod.ResizeAsync(1, 384);
        (await belowBoot.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("QemuOptions.Cpus");
    }

    public sealed class PodFixture : IAsyncLifetime
    {
        private const long MiB = 1024 * 1024;
        private readonly TempDirectory _temp = new();

        public Pod Pod { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            HostTools.RequireQemu();
            await BusyboxRootfs.CreateAsync(_temp.File("writer-rootfs"), RepoPaths.Busybox);
            await BusyboxRootfs.CreateAsync(_temp.File("reader-rootfs"), RepoPaths.Busybox);
            var resources = new PodResources { CpuRequestMilli = 500, CpuLimitMilli = 1000, MemoryRequestBytes = 64 * MiB, MemoryLimitBytes = 128 * MiB };
            PodVolumeMount[] data = [new() { Name = "data", MountPath = "/data" }];
            var spec = new PodSpec
            {
                Name = "twins",
                Containers =
                [
                    PodGuestView.Sleeper("writer", _temp.File("writer-rootfs"), resources, data),
                    PodGuestView.Sleeper("reader", _temp.File("reader-rootfs"), resources, data),
                ],
                Volumes = [new() { Name = "data", EmptyDir = new() { InMemory = true, SizeLimitBytes = 64 * MiB } }],
            };
            // A cap above the limits' 3 vCPUs: without one the cap is the host's CPUs, which may be fewer (2 on CI).
            Pod = await Pod.CreateAsync(spec, new PodOptions { Vm = VmOptions.Image(_temp.File("pod")) with { MemorySlots = 2 }, Sizing = new PodSizingOptions { MaxCpus = 4 } });
            await Pod.StartAsync();
        }

        public async Task DisposeAsync()
        {
            if (Pod is not null)
            {
                await Pod.DeleteAsync(TimeSpan.FromSeconds(5));
            }
            _temp.Dispose();
        }
    }
}
