namespace KataAgent.Host.Sandboxes;

/// <summary>
/// A sandbox VM's size as qemu reports it: the vCPUs and memory it has now, and how far hot-plug can take it
/// (<see cref="Vm.QemuOptions.MaxCpus"/>, <see cref="Vm.QemuOptions.MaxMemoryMiB"/>).
/// </summary>
/// <param name="Cpus">vCPUs plugged in, the boot ones included.</param>
/// <param name="MemoryMiB">Guest memory in MiB: the boot RAM and every hot-plugged DIMM.</param>
/// <param name="MaxCpus">vCPUs the VM can grow to (its boot vCPUs when it was started without hot-plug room).</param>
/// <param name="MaxMemoryMiB">Memory in MiB the VM can grow to (its boot memory when it was started without hot-plug room).</param>
public sealed record SandboxResources(int Cpus, int MemoryMiB, int MaxCpus, int MaxMemoryMiB);
