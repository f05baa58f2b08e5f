using System.Globalization;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>The guest's memory block on x86_64: a DIMM that is not a whole number of blocks cannot all come online.</summary>
    public const int MemoryBlockMiB = 128;

    /// <summary>Serializes resizes, so that each one plans from what the one before it plugged.</summary>
    private readonly SemaphoreSlim _resizeGate = new(1, 1);

    /// <summary>vCPUs were plugged that the guest has not confirmed online yet (a failed guest step is retried by the next resize).</summary>
    private bool _cpusPending;

    /// <summary>A DIMM was plugged that the guest has not been told to online yet.</summary>
    private bool _memoryPending;

    /// <summary>
    /// Grows the VM to at least <paramref name="vcpus"/> vCPUs and <paramref name="memoryMiB"/> MiB of memory: hot-plugs
    /// the missing vCPUs one by one and the missing memory as one DIMM rounded up to the guest's 128 MiB memory block,
    /// then has the agent online them (OnlineCPUMem). Never shrinks: a VM already that large is left as it is (a
    /// sandbox built with Kata's per-container calls has no call that offlines CPUs in the guest before they are
    /// unplugged; a pod's <see cref="Pods.Pod.ResizeAsync"/> shrinks through kataagent.v1 UpdatePod). Safe to call
    /// concurrently; calls are serialized, and each sees what the previous one plugged.
    /// </summary>
    /// <remarks>
    /// Both limits are checked before anything is plugged, so a refused call changes nothing. A growth that takes the
    /// last free one of <see cref="QemuOptions.MemorySlots"/> plugs all the room left up to
    /// <see cref="QemuOptions.MaxMemoryMiB"/> (whole blocks) instead, so that later growths are already met rather
    /// than refused for want of a slot; guest RAM is backed lazily, so that costs the host nothing until it is used. The CPUs are online when
    /// this returns; a DIMM's memory blocks reach the guest a moment after qemu plugs it, and the agent has switched
    /// the guest to online those by themselves (memory/auto_online_blocks), so MemTotal may follow shortly after.
    /// </remarks>
    /// <returns>The VM's size afterwards, as qemu reports it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative count.</exception>
    /// <exception cref="VmException">The request is beyond <see cref="QemuOptions.MaxCpus"/> or
    /// <see cref="QemuOptions.MaxMemoryMiB"/> (or <see cref="QemuOptions.MemorySlots"/>): the message names the field.</exception>
    /// <exception cref="QmpException">qemu refused a vCPU or DIMM.</exception>
    /// <exception cref="AgentStatusException">The agent could not online what was plugged.</exception>
    public Task<SandboxResources> EnsureResourcesAsync(int vcpus, int memoryMiB, CancellationToken cancellationToken = default) =>
        ResizeCoreAsync(vcpus, memoryMiB, shrink: false, async (step, ct) =>
        {
            if (step.CpusPlugged || step.MemoryPlugged)
            {
                // nb_cpus is how many to have online in all (the agent onlines offline ones until that many are);
                // 0 asks for no CPU. Memory blocks are left alone when no DIMM came, as a CPU-only resize should.
                await _agent.OnlineCpusAndMemoryAsync(step.CpusPlugged ? (uint)step.Cpus : 0, cpuOnly: !step.MemoryPlugged, ct).ConfigureAwait(false);
            }
        }, cancellationToken);

    /// <summary>
    /// The one place the VM's size changes, grow and shrink. In order: what grows is plugged (vCPUs one by one, memory
    /// as one DIMM of whole blocks); then <paramref name="guest"/> runs once, with the vCPU count to have and what was
    /// plugged, and brings the guest there (online what came, offline the CPUs that go, set the containers' limits);
    /// then the memory that shrinks is unplugged (whole DIMMs, the last plugged first, while the memory stays at or above
    /// <paramref name="memoryMiB"/>); vCPUs that go are offlined by the guest step and stay plugged (see below). So the
    /// containers' limits are within what the guest has at every step. Boot vCPUs and boot memory
    /// never go. With <paramref name="shrink"/> false nothing is unplugged.
    /// </summary>
    internal async Task<SandboxResources> ResizeCoreAsync(int vcpus, int memoryMiB, bool shrink, Func<SandboxResizeStep, CancellationToken, Task> guest, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpus);
        ArgumentOutOfRangeException.ThrowIfNegative(memoryMiB);
        await _resizeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var size = await _vm.QuerySizeAsync(cancellationToken).ConfigureAwait(false);
            if (vcpus > size.MaxCpus)
            {
                throw new VmException(Invariant($"sandbox {Id}: {vcpus} vCPUs asked for, beyond the VM's QemuOptions.MaxCpus ({size.MaxCpus}); it has {size.Cpus}"));
            }
            long dimmMiB = memoryMiB > size.MemoryMiB ? RoundUp((long)memoryMiB - size.MemoryMiB, MemoryBlockMiB) : 0;
            if (dimmMiB > 0 && size.MemoryMiB + dimmMiB > size.MaxMemoryMiB)
            {
                throw new VmException(Invariant($"sandbox {Id}: {memoryMiB} MiB of memory asked for, beyond the VM's QemuOptions.MaxMemoryMiB ({size.MaxMemoryMiB} MiB); ")
                    + Invariant($"it has {size.MemoryMiB} MiB and grows by whole {MemoryBlockMiB} MiB blocks, so it would need {size.MemoryMiB + dimmMiB} MiB"));
            }
            if (dimmMiB > 0 && size.Dimms >= size.MemorySlots)
            {
                throw new VmException(Invariant($"sandbox {Id}: {memoryMiB} MiB of memory asked for, but all {size.MemorySlots} of the VM's QemuOptions.MemorySlots are taken; it has {size.MemoryMiB} MiB"));
            }
            if (dimmMiB > 0 && size.Dimms == size.MemorySlots - 1)
            {
                // The last free slot: a DIMM of all the room left, so that a later need still fits in it.
                dimmMiB = (size.MaxMemoryMiB - size.MemoryMiB) / MemoryBlockMiB * MemoryBlockMiB;
            }
            var unplugCpus = 0;
            var unplugDimms = new List<QemuDimm>();
            if (shrink)
            {
                if (vcpus < size.BootCpus)
                {
                    throw new VmException(Invariant($"sandbox {Id}: {vcpus} vCPUs asked for, below the {size.BootCpus} the VM booted with (QemuOptions.Cpus), which cannot be unplugged"));
                }
                if (memoryMiB < size.BootMemoryMiB)
                {
                    throw new VmException(Invariant($"sandbox {Id}: {memoryMiB} MiB of memory asked for, below the {size.BootMemoryMiB} MiB the VM booted with (QemuOptions.MemoryMiB), which cannot be unplugged"));
                }
                // vCPUs above the target are offlined by the guest step first, so nothing runs there when qemu asks the
                // guest to eject them. Under TCG they stay plugged and offline (IVirtualMachine.CanUnplugCpus): an
                // offline vCPU halts and costs the host no CPU time, and a later growth onlines it again before it
                // plugs another (docs/PODS.md "Resizing").
                unplugCpus = _vm.CanUnplugCpus ? Math.Max(0, size.Cpus - vcpus) : 0;
                if (memoryMiB < size.MemoryMiB)
                {
                    int left = size.MemoryMiB;
                    foreach (var dimm in (await _vm.QueryDimmsAsync(cancellationToken).ConfigureAwait(false)).Reverse())
                    {
                        if (left - dimm.SizeMiB < memoryMiB)
                        {
                            break;
                        }
                        unplugDimms.Add(dimm);
                        left -= dimm.SizeMiB;
                    }
                }
            }
            int cpus = size.Cpus;
            while (cpus < vcpus)
            {
                _cpusPending = true;
                cpus = await _vm.AddCpuAsync(cancellationToken).ConfigureAwait(false);
            }
            if (dimmMiB > 0)
            {
                _memoryPending = true;
                await _vm.AddMemoryAsync((int)dimmMiB, cancellationToken).ConfigureAwait(false);
            }
            await guest(new SandboxResizeStep(shrink ? vcpus : Math.Max(cpus, vcpus), _cpusPending, _memoryPending), cancellationToken).ConfigureAwait(false);
            _cpusPending = false;
            _memoryPending = false;
            for (int i = 0; i < unplugCpus; i++)
            {
                await _vm.RemoveCpuAsync(cancellationToken).ConfigureAwait(false);
            }
            foreach (var dimm in unplugDimms)
            {
                await _vm.RemoveMemoryAsync(dimm.Id, cancellationToken).ConfigureAwait(false);
            }
            var after = await _vm.QuerySizeAsync(cancellationToken).ConfigureAwait(false);
            return new SandboxResources(after.Cpus, after.MemoryMiB, after.MaxCpus, after.MaxMemoryMiB);
        }
        finally
        {
            _resizeGate.Release();
        }
    }

    private static long RoundUp(long value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
