namespace KataAgent.Host.Pods;

/// <summary>The VM a pod gets: boot size from its requests, hot-plug headroom up to its limits (or the caps).</summary>
/// <param name="Cpus">vCPUs at boot.</param>
/// <param name="MemoryMiB">Memory at boot.</param>
/// <param name="MaxCpus">vCPUs the VM can grow to.</param>
/// <param name="MaxMemoryMiB">Memory the VM can grow to.</param>
public sealed record PodVmSize(int Cpus, int MemoryMiB, int MaxCpus, int MaxMemoryMiB);
