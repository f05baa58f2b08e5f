using System.Globalization;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// The cgroup v1 → v2 value conversions runc and crun use, so a spec means the same here as under
/// either runtime.
/// </summary>
public static class CgroupV2Conversions
{
    /// <summary>
    /// cpu.shares (2..262144) → cpu.weight (1..10000): 1 + ((shares − 2) × 9999) / 262142.
    /// 0 means unset and stays 0; out-of-range shares are clamped as the kernel clamps them in v1.
    /// </summary>
    public static ulong CpuSharesToWeight(ulong shares)
    {
        if (shares == 0)
        {
            return 0;
        }
        shares = Math.Clamp(shares, 2UL, 262144UL);
        return 1 + ((shares - 2) * 9999) / 262142;
    }

    /// <summary>
    /// blkio.weight (10..1000) → io.weight (1..10000): 1 + (weight − 10) × 9999 / 990.
    /// 0 means unset and stays 0; out-of-range weights are clamped to 10..1000.
    /// </summary>
    public static ulong BlkioWeightToIoWeight(uint weight)
    {
        if (weight == 0)
        {
            return 0;
        }
        ulong w = Math.Clamp(weight, 10U, 1000U);
        return 1 + (w - 10) * 9999 / 990;
    }

    /// <summary>
    /// OCI memory.swap is memory+swap (the v1 memsw limit); v2's memory.swap.max is swap alone.
    /// Returns the value for memory.swap.max, or null to leave it alone:
    /// swap 0 (unset) → null, except that limit −1 with swap unset means "both unlimited" → "max";
    /// swap −1 → "max"; otherwise swap − limit, which needs a positive limit ≤ swap.
    /// </summary>
    public static string? MemorySwapToV2(long swap, long limit)
    {
        if (swap == 0)
        {
            return limit == -1 ? "max" : null;
        }
        if (swap == -1)
        {
            return "max";
        }
        if (swap < -1)
        {
            throw new CgroupException($"invalid memory swap limit {swap}: must be -1 (unlimited), 0 (unset) or a byte count");
        }
        if (limit <= 0)
        {
            throw new CgroupException($"cannot set a memory+swap limit ({swap}) without a memory limit (Limit is {limit})");
        }
        if (swap < limit)
        {
            throw new CgroupException($"memory+swap limit (Swap={swap}) must be greater than or equal to the memory limit (Limit={limit})");
        }
        return (swap - limit).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A v1-style memory value for memory.max/memory.low: −1 → "max", 0 → null (unset), positive → bytes.</summary>
    public static string? MemoryValue(long value, string field)
    {
        return value switch
        {
            0 => null,
            -1 => "max",
            > 0 => value.ToString(CultureInfo.InvariantCulture),
            _ => throw new CgroupException($"invalid memory {field} {value}: must be -1 (unlimited), 0 (unset) or a byte count"),
        };
    }
}
