using System.Globalization;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Types;

namespace KataAgent.Host.Network;

/// <summary>One interface of the pod's network namespace as CNI left it: the link and its addresses.</summary>
public sealed record PodInterface(NetworkLink Link, IReadOnlyList<InterfaceAddress> Addresses)
{
    /// <summary>The link's name in the pod netns (eth0): the guest NIC is renamed to it.</summary>
    public string Name => Link.Name;

    /// <summary>The link's MAC as ip(8) writes it.</summary>
    public string Mac => Link.MacText;

    /// <summary>
    /// The agent's Interface for the guest NIC that stands in for this one: the pod's name, addresses,
    /// MTU and NOARP flag, with the guest NIC's MAC and PCI path (which the agent waits for).
    /// </summary>
    public Interface ToAgentInterface(string guestMac, string devicePath, string type)
    {
        var message = new Interface
        {
            Device = Name,
            Name = Name,
            Mtu = Link.Mtu,
            HwAddr = guestMac,
            DevicePath = devicePath,
            Type = type,
            RawFlags = Link.Flags & LinuxIf.IFF_NOARP,
        };
        foreach (var address in Addresses)
        {
            message.IPAddresses.Add(new IPAddress
            {
                Family = address.Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4,
                Address = address.Address.ToString(),
                Mask = address.PrefixLength.ToString(CultureInfo.InvariantCulture),
            });
        }
        return message;
    }
}
