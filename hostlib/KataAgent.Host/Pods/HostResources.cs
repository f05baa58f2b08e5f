using System.Globalization;

namespace KataAgent.Host.Pods;

/// <summary>The host's CPUs and memory: the caps a pod's VM is sized within when nothing smaller is set.</summary>
internal static class HostResources
{
    /// <summary>The CPUs this process may run on.</summary>
    public static int Cpus => Environment.ProcessorCount;

    /// <summary>MemTotal from /proc/meminfo, in MiB.</summary>
    public static long MemoryMiB
    {
        get
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    string kib = line["MemTotal:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kib, CultureInfo.InvariantCulture) / 1024;
                }
            }
            throw new InvalidOperationException("/proc/meminfo has no MemTotal line");
        }
    }
}
