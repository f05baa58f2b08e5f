namespace KataAgent.Shim.Sizing;

/// <summary>The size a VM should have for what runs in it: what <c>Sandbox.EnsureResourcesAsync</c> is called with.</summary>
/// <param name="Cpus">vCPUs.</param>
/// <param name="MemoryMiB">Memory, MiB.</param>
/// <param name="Capped">The demand was more than the VM's headroom and was cut to it (worth a log line).</param>
internal sealed record SizingTarget(int Cpus, int MemoryMiB, bool Capped);
