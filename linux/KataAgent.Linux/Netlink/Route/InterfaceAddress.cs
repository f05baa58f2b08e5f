using System.Net;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>An address on a link as RTM_NEWADDR describes it.</summary>
public sealed record InterfaceAddress
{
    /// <summary>The index of the link the address is on.</summary>
    public required int InterfaceIndex { get; init; }

    /// <summary>The local address (IFA_LOCAL, else IFA_ADDRESS).</summary>
    public required IPAddress Address { get; init; }

    /// <summary>The prefix length of the address's network.</summary>
    public required int PrefixLength { get; init; }

    /// <summary>IFA_BROADCAST (IPv4 only).</summary>
    public IPAddress? Broadcast { get; init; }

    /// <summary>IFA_ADDRESS when it differs from the local address (the peer of a point-to-point link).</summary>
    public IPAddress? Peer { get; init; }

    /// <summary>RT_SCOPE_*.</summary>
    public byte Scope { get; init; }

    /// <summary>IFA_F_* (all 32 bits from IFA_FLAGS when present).</summary>
    public uint Flags { get; init; }

    /// <summary>IFA_LABEL (IPv4).</summary>
    public string? Label { get; init; }

    /// <summary>IFA_F_PERMANENT: configured, not learned (SLAAC) or temporary.</summary>
    public bool IsPermanent => (Flags & LinuxIfAddr.IFA_F_PERMANENT) != 0;

    /// <summary>"address/prefix".</summary>
    public override string ToString() => $"{Address}/{PrefixLength}";
}
