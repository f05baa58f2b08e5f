using System.Globalization;

namespace KataAgent.Host.Sizing;

/// <summary>What the host has: the default caps of a VM's size (the shim's sizing options, <see cref="Pods.PodSizingOptions"/>).</summary>
/// <param name="Cpus">CPUs this process may run on.</param>
/// <param name="MemoryMiB">The host's memory (MemTotal) in MiB.</param>
internal sealed record HostCapacity(int Cpus, int MemoryMiB)
{
    /// <summary>This host's CPUs (those the shim may run on, as qemu's vCPU threads will) and memory (/proc/meminfo MemTotal).</summary>
    public static HostCapacity Current() => new(Environment.ProcessorCount, MemTotalMiB(File.ReadAllText("/proc/meminfo")));

    /// <summary>MemTotal of a /proc/meminfo text, in MiB.</summary>
    /// <exception cref="FormatException">No MemTotal line in kB.</exception>
    public static int MemTotalMiB(string meminfo)
    {
        foreach (string line in meminfo.Split('\n'))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                continue;
            }
            string[] fields = line["MemTotal:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && fields[1] == "kB" && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
            {
                return (int)Math.Min(int.MaxValue, kib / 1024);
            }
        }
        throw new FormatException("/proc/meminfo has no 'MemTotal: N kB' line");
    }
}
