namespace KataAgent.Shim.Sizing;

/// <summary>What a set of containers asks of the VM, summed over them (<see cref="VmSizing.Demand"/>).</summary>
/// <param name="MilliCpus">CPU in thousandths: each container's limit (quota/period), else its request (shares).</param>
/// <param name="MemoryMiB">Memory in MiB: each container's memory limit, rounded up.</param>
internal sealed record ResourceDemand(long MilliCpus, long MemoryMiB);
