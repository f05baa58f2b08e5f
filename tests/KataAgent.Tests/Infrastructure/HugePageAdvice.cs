using System.Globalization;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// What a process asked madvise(MADV_HUGEPAGE) for, read from /proc/PID/smaps: the mappings whose VmFlags carry
/// <c>hg</c>. The kernel sets the flag whatever the THP mode (even "never"), so it says what the binary asked for, not
/// what this host grants.
/// </summary>
public static class HugePageAdvice
{
    /// <summary>The total size in KiB of <paramref name="pid"/>'s mappings advised for huge pages.</summary>
    public static long AdvisedKiB(int pid)
    {
        long total = 0;
        long size = 0;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            if (line.StartsWith("Size:", StringComparison.Ordinal))
            {
                size = long.Parse(line["Size:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("hg"))
            {
                total += size;
            }
        }
        return total;
    }
}
