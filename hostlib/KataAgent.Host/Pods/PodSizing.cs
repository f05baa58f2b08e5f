namespace KataAgent.Host.Pods;

/// <summary>The VM's size from a pod's requests and limits (pure; the formula and its reasons are in docs/PODS.md "Sizing").</summary>
public static class PodSizing
{
    /// <summary>The VM for <paramref name="pod"/> on a host with <paramref name="hostCpus"/> CPUs and <paramref name="hostMemoryMiB"/> of memory.</summary>
    public static PodVmSize Compute(PodSpec pod, PodSizingOptions options, int hostCpus, long hostMemoryMiB) => throw new NotImplementedException();
}
