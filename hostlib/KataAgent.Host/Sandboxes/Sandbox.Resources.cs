namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>
    /// Grows the VM to at least <paramref name="vcpus"/> vCPUs and <paramref name="memoryMiB"/> MiB of memory: hot-plugs
    /// the missing vCPUs one by one and the missing memory as one DIMM rounded up to the guest's 128 MiB memory block,
    /// then has the agent online them (OnlineCPUMem). Never shrinks: a VM already that large is left as it is. Safe to
    /// call concurrently; calls are serialized, and each sees what the previous one plugged.
    /// </summary>
    /// <returns>The VM's size afterwards.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative count.</exception>
    /// <exception cref="Vm.VmException">The request is beyond <see cref="Vm.QemuOptions.MaxCpus"/> or
    /// <see cref="Vm.QemuOptions.MaxMemoryMiB"/> (or <see cref="Vm.QemuOptions.MemorySlots"/>): the message names the field.</exception>
    /// <exception cref="Vm.QmpException">qemu refused a vCPU or DIMM.</exception>
    /// <exception cref="AgentStatusException">The agent could not online what was plugged.</exception>
    public Task<SandboxResources> EnsureResourcesAsync(int vcpus, int memoryMiB, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();
}
