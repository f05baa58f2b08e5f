namespace KataAgent.Linux.Netlink.Route;

/// <summary>
/// A classifier as RTM_NEWTFILTER describes it. A u32 filter dumps as two entries: its hash
/// table (with a divisor, no keys) and the key node that matches and carries the actions.
/// </summary>
internal sealed record TcFilterEntry
{
    public required int InterfaceIndex { get; init; }

    public required uint Parent { get; init; }

    public required uint Handle { get; init; }

    public required ushort Priority { get; init; }

    /// <summary>The protocol in host order (ETH_P_ALL is 3).</summary>
    public required ushort Protocol { get; init; }

    public required string Kind { get; init; }

    /// <summary>u32: tc_u32_sel.flags, when this entry is a key node.</summary>
    public byte? U32Flags { get; init; }

    /// <summary>u32: the keys of the selector (mask, value, offset), values in network byte order.</summary>
    public IReadOnlyList<(uint Mask, uint Value, int Offset)> U32Keys { get; init; } = [];

    public IReadOnlyList<MirredAction> Actions { get; init; } = [];
}
