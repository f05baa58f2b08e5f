using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// <see cref="Sandbox.EnsureResourcesAsync"/> through the sandbox's seams: what it plugs (grow-only, memory in whole
/// 128 MiB blocks, one DIMM per growth), the caps it refuses beyond (naming the QemuOptions field, plugging nothing),
/// the OnlineCPUMem it sends, and concurrent callers that must not plug twice for one need.
/// </summary>
public sealed class SandboxResourcesTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _log = [];
    private readonly FakeVirtualMachine _vm;
    private readonly FakeSandboxAgent _agent;
    private readonly Sandbox _sandbox;

    public SandboxResourcesTests()
    {
        _vm = new FakeVirtualMachine(Directory.CreateDirectory(_temp.File("state")).FullName, _log)
        {
            Size = new QemuVmSize(Cpus: 1, MaxCpus: 4, MemoryMiB: 768, MaxMemoryMiB: 2048, Dimms: 0, MemorySlots: 4),
        };
        _agent = new FakeSandboxAgent(_log);
        _sandbox = new Sandbox("sb", _vm, _agent, ownsVm: true, hasDns: false);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Missing_vcpus_and_memory_are_plugged_then_onlined_and_the_new_size_returned()
    {
        var size = await _sandbox.EnsureResourcesAsync(3, 1000);

        // 232 MiB missing: one DIMM of two whole 128 MiB blocks.
        _log.Should().Equal("AddCpu -> 2", "AddCpu -> 3", "AddMemory 256", "OnlineCPUMem cpus=3 cpuOnly=False");
        size.Should().Be(new SandboxResources(Cpus: 3, MemoryMiB: 1024, MaxCpus: 4, MaxMemoryMiB: 2048));
    }

    [Fact]
    public async Task A_vm_already_that_large_is_left_alone_and_never_shrinks()
    {
        await _sandbox.EnsureResourcesAsync(2, 768);
        _log.Clear();

        var size = await _sandbox.EnsureResourcesAsync(1, 512);

        _log.Should().BeEmpty("nothing is missing, so nothing is plugged or onlined");
        size.Should().Be(new SandboxResources(2, 768, 4, 2048));
    }

    [Fact]
    public async Task Cpus_alone_are_onlined_without_touching_memory_blocks()
    {
        await _sandbox.EnsureResourcesAsync(2, 0);

        _log.Should().Equal("AddCpu -> 2", "OnlineCPUMem cpus=2 cpuOnly=True");
    }

    [Fact]
    public async Task Memory_alone_asks_no_cpu_online()
    {
        await _sandbox.EnsureResourcesAsync(0, 769);

        _log.Should().Equal("AddMemory 128", "OnlineCPUMem cpus=0 cpuOnly=False");
    }

    [Fact]
    public async Task More_vcpus_than_MaxCpus_is_refused_naming_the_field_and_plugs_nothing()
    {
        var ensure = async () => await _sandbox.EnsureResourcesAsync(5, 1024);

        (await ensure.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxCpus").And.Contain("5 vCPUs").And.Contain("(4)");
        _log.Should().BeEmpty("the memory that would fit is not plugged either: a refused resize changes nothing");
    }

    [Fact]
    public async Task Memory_beyond_MaxMemoryMiB_after_rounding_to_whole_blocks_is_refused_naming_the_field()
    {
        _vm.Size = _vm.Size with { MaxMemoryMiB = 1000 };

        // 768 + 200 fits 1000, but the guest takes whole 128 MiB blocks: 768 + 256 does not.
        var ensure = async () => await _sandbox.EnsureResourcesAsync(2, 968);

        (await ensure.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxMemoryMiB").And.Contain("1024 MiB");
        _log.Should().BeEmpty();
    }

    [Fact]
    public async Task The_largest_request_is_refused_rather_than_overflowing_into_nothing()
    {
        var ensure = async () => await _sandbox.EnsureResourcesAsync(1, int.MaxValue);

        (await ensure.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MaxMemoryMiB");
        _log.Should().BeEmpty();
    }

    [Fact]
    public async Task Memory_with_every_slot_taken_is_refused_naming_MemorySlots()
    {
        _vm.Size = _vm.Size with { Dimms = 4 };

        var ensure = async () => await _sandbox.EnsureResourcesAsync(1, 1024);

        (await ensure.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("MemorySlots");
        _log.Should().BeEmpty();
    }

    [Fact]
    public async Task The_last_free_slot_takes_all_the_room_left_so_later_growths_still_fit()
    {
        _vm.Size = _vm.Size with { Dimms = 3, MaxMemoryMiB = 2000 };

        var size = await _sandbox.EnsureResourcesAsync(1, 900);
        var later = await _sandbox.EnsureResourcesAsync(1, 1800);

        // 2000 - 768 = 1232 MiB of room: 9 whole blocks.
        _log.Should().Equal("AddMemory 1152", "OnlineCPUMem cpus=0 cpuOnly=False");
        size.MemoryMiB.Should().Be(1920);
        later.MemoryMiB.Should().Be(1920, "the growth after is met without a slot");
    }

    [Fact]
    public async Task Negative_counts_are_argument_errors()
    {
        var cpus = async () => await _sandbox.EnsureResourcesAsync(-1, 0);
        var memory = async () => await _sandbox.EnsureResourcesAsync(0, -1);

        await cpus.Should().ThrowAsync<ArgumentOutOfRangeException>();
        await memory.Should().ThrowAsync<ArgumentOutOfRangeException>();
    }

    [Fact]
    public async Task Concurrent_callers_are_serialized_and_each_plans_from_what_the_last_one_plugged()
    {
        var release = new TaskCompletionSource();
        _vm.HotplugDelay = () => release.Task;

        var first = _sandbox.EnsureResourcesAsync(3, 1024);
        var second = _sandbox.EnsureResourcesAsync(3, 1024);
        var third = _sandbox.EnsureResourcesAsync(4, 1152);
        await Task.Delay(50);
        release.SetResult();
        var sizes = await Task.WhenAll(first, second, third);

        _log.Should().Equal(
            "AddCpu -> 2", "AddCpu -> 3", "AddMemory 256", "OnlineCPUMem cpus=3 cpuOnly=False",
            "AddCpu -> 4", "AddMemory 128", "OnlineCPUMem cpus=4 cpuOnly=False");
        sizes[0].Should().Be(new SandboxResources(3, 1024, 4, 2048));
        sizes[1].Should().Be(new SandboxResources(3, 1024, 4, 2048), "the second caller found the VM grown already");
        sizes[2].Should().Be(new SandboxResources(4, 1152, 4, 2048));
    }

    [Fact]
    public async Task An_online_the_agent_refused_is_sent_again_by_the_next_resize()
    {
        _agent.Refuse["OnlineCPUMem"] = AgentStatusCode.DeadlineExceeded;
        var ensure = async () => await _sandbox.EnsureResourcesAsync(2, 0);
        await ensure.Should().ThrowAsync<AgentStatusException>();
        _agent.Refuse.Clear();
        _log.Clear();

        await _sandbox.EnsureResourcesAsync(2, 0);

        _log.Should().Equal(["OnlineCPUMem cpus=2 cpuOnly=True"], "the vCPU qemu has is still offline in the guest");
    }

    /// <summary>A pod's guest step (UpdatePod), recorded in the log with what it was asked.</summary>
    private Task PodStep(SandboxResizeStep step, CancellationToken cancellationToken)
    {
        _log.Add($"Guest cpus={step.Cpus} cpusPlugged={step.CpusPlugged} memoryPlugged={step.MemoryPlugged}");
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_shrink_asks_the_guest_first_then_unplugs_whole_dimms_last_plugged_first_and_keeps_offline_vcpus_plugged()
    {
        await _sandbox.ResizeCoreAsync(4, 768 + 256, shrink: true, PodStep, CancellationToken.None);
        await _sandbox.ResizeCoreAsync(4, 768 + 256 + 512, shrink: true, PodStep, CancellationToken.None);
        _log.Clear();

        // 1536 MiB in: boot 768 + dimm0 256 + dimm1 512. Down to 800: dimm1 goes (1024 left); dimm0 would leave 768 < 800.
        var size = await _sandbox.ResizeCoreAsync(2, 800, shrink: true, PodStep, CancellationToken.None);

        // The vCPUs above 2 are offlined by the guest step and stay plugged: a TCG VM cannot unplug them (CanUnplugCpus).
        _log.Should().Equal("Guest cpus=2 cpusPlugged=False memoryPlugged=False", "RemoveMemory dimm1");
        size.Should().Be(new SandboxResources(Cpus: 4, MemoryMiB: 1024, MaxCpus: 4, MaxMemoryMiB: 2048));

        _log.Clear();
        await _sandbox.ResizeCoreAsync(3, 1024, shrink: true, PodStep, CancellationToken.None);
        _log.Should().Equal(["Guest cpus=3 cpusPlugged=False memoryPlugged=False"], "a growth onlines a plugged, offline vCPU before it plugs another");
    }

    [Fact]
    public async Task Under_kvm_a_shrink_unplugs_the_offlined_vcpus_after_the_guest_step_then_the_dimms()
    {
        _vm.CanUnplugCpus = true;
        await _sandbox.ResizeCoreAsync(4, 768 + 256, shrink: true, PodStep, CancellationToken.None);
        _log.Clear();

        var size = await _sandbox.ResizeCoreAsync(2, 768, shrink: true, PodStep, CancellationToken.None);

        _log.Should().Equal("Guest cpus=2 cpusPlugged=False memoryPlugged=False", "RemoveCpu -> 3", "RemoveCpu -> 2", "RemoveMemory dimm0");
        size.Should().Be(new SandboxResources(Cpus: 2, MemoryMiB: 768, MaxCpus: 4, MaxMemoryMiB: 2048));

        _log.Clear();
        await _sandbox.ResizeCoreAsync(3, 768, shrink: true, PodStep, CancellationToken.None);
        _log.Should().Equal(["AddCpu -> 3", "Guest cpus=3 cpusPlugged=True memoryPlugged=False"], "the slot freed by the unplug takes the next growth");
    }

    [Fact]
    public async Task A_mixed_resize_plugs_what_grows_before_the_guest_step_and_unplugs_what_shrinks_after_it()
    {
        await _sandbox.ResizeCoreAsync(1, 768 + 256, shrink: true, PodStep, CancellationToken.None);
        _log.Clear();

        await _sandbox.ResizeCoreAsync(3, 768, shrink: true, PodStep, CancellationToken.None);

        _log.Should().Equal("AddCpu -> 2", "AddCpu -> 3", "Guest cpus=3 cpusPlugged=True memoryPlugged=False", "RemoveMemory dimm0");
    }

    [Fact]
    public async Task A_shrink_below_the_boot_size_is_refused_naming_the_field_and_changes_nothing()
    {
        _vm.Size = _vm.Size with { BootCpus = 2, BootMemoryMiB = 768, Cpus = 2 };

        var cpus = () => _sandbox.ResizeCoreAsync(1, 768, shrink: true, PodStep, CancellationToken.None);
        var memory = () => _sandbox.ResizeCoreAsync(2, 512, shrink: true, PodStep, CancellationToken.None);

        (await cpus.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("QemuOptions.Cpus");
        (await memory.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("QemuOptions.MemoryMiB");
        _log.Should().BeEmpty();
    }

    [Fact]
    public async Task EnsureResources_still_never_unplugs()
    {
        await _sandbox.EnsureResourcesAsync(3, 1024);
        _log.Clear();

        var size = await _sandbox.EnsureResourcesAsync(1, 768);

        _log.Should().BeEmpty();
        size.Cpus.Should().Be(3);
    }
}
