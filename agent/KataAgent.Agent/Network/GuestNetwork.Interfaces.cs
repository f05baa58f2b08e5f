using KataAgent.Agent.Errors;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using KataAgent.Agent.Devices;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Types;
using Microsoft.Extensions.Logging;
using ProtoIPAddress = KataAgent.Protocols.Types.IPAddress;

namespace KataAgent.Agent.Network;

/// <summary>UpdateInterface and ListInterfaces.</summary>
public sealed partial class GuestNetwork
{
    /// <summary>Every link with its addresses, as Kata's agent lists them.</summary>
    public Task<List<Interface>> ListInterfacesAsync(CancellationToken cancellationToken) =>
        ExclusiveAsync(() => Task.FromResult(Rtnl.ListLinks().Select(ToInterface).ToList()), cancellationToken);

    /// <summary>
    /// Configures one NIC as Kata's agent does: found by MAC (else by name; after waiting for a
    /// hot-plugged NIC at devicePath), then down, addresses replaced, MAC (when found by name),
    /// name, MTU and ARP set, up. Returns the interface as it now is.
    /// </summary>
    public Task<Interface> UpdateInterfaceAsync(Interface? request, CancellationToken cancellationToken) =>
        ExclusiveAsync(async () =>
        {
            var wanted = ValidateInterface(request);
            string? pciName = null;
            if (wanted.PciPath is { } pciPath)
            {
                pciName = await _pci.WaitAsync(pciPath, _hotplugTimeout, cancellationToken).ConfigureAwait(false)
                    ?? throw AgentException.InvalidArgument("interface.devicePath", $"no network interface appeared at PCI path {pciPath} within {_hotplugTimeout.TotalSeconds:0.###} s");
            }
            var link = FindTarget(wanted, pciName);
            Apply(link, wanted);
            var updated = Rtnl.GetLink(link.Index);
            _logger.LogInformation("interface {Name} (index {Index}, {Mac}) configured: {Addresses}", updated.Name, updated.Index, updated.MacText, string.Join(", ", wanted.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}")));
            return ToInterface(updated);
        }, cancellationToken);

    private sealed record WantedInterface(string Name, byte[]? Mac, string MacText, List<(System.Net.IPAddress Address, int PrefixLength)> Addresses, uint Mtu, bool NoArp, PciPath? PciPath);

    private static WantedInterface ValidateInterface(Interface? request)
    {
        if (request is null)
        {
            throw AgentException.InvalidArgument("interface", "is missing");
        }
        byte[]? mac = null;
        if (request.HwAddr.Length > 0 && !MacAddress.TryParse(request.HwAddr, out mac))
        {
            throw AgentException.InvalidArgument("interface.hwAddr", $"\"{request.HwAddr}\" is not a MAC address (six hex pairs separated by ':')");
        }
        if (request.Name.Length > 0 && !Rtnetlink.IsValidLinkName(request.Name))
        {
            throw AgentException.InvalidArgument("interface.name", $"\"{request.Name}\" is not a valid interface name (1-15 bytes, no '/', ':' or whitespace)");
        }
        PciPath? pciPath = null;
        if (request.DevicePath.Length > 0 && !PciPath.TryParse(request.DevicePath, out pciPath, out string? pciError))
        {
            throw AgentException.InvalidArgument("interface.devicePath", pciError);
        }
        if (mac is null && request.Name.Length == 0 && pciPath is null)
        {
            throw AgentException.InvalidArgument("interface.hwAddr", "is empty and so are name and devicePath: nothing identifies the interface");
        }
        if (request.Mtu > int.MaxValue)
        {
            throw AgentException.InvalidArgument("interface.mtu", $"{request.Mtu} is out of range");
        }
        var addresses = new List<(System.Net.IPAddress, int)>();
        for (int i = 0; i < request.IPAddresses.Count; i++)
        {
            addresses.Add(ParseAddress(request.IPAddresses[i], $"interface.IPAddresses[{i}]"));
        }
        return new WantedInterface(request.Name, mac, request.HwAddr, addresses, (uint)request.Mtu, (request.RawFlags & LinuxIf.IFF_NOARP) != 0, pciPath);
    }

    /// <summary>An IPAddress message as address and prefix; the mask is a prefix length ("24"), or a dotted IPv4 netmask.</summary>
    internal static (System.Net.IPAddress Address, int PrefixLength) ParseAddress(ProtoIPAddress? message, string field)
    {
        if (message is null || message.Address.Length == 0)
        {
            throw AgentException.InvalidArgument($"{field}.address", "is empty");
        }
        string text = message.Address;
        string? mask = message.Mask;
        int slash = text.IndexOf('/');
        if (slash >= 0 && mask.Length == 0)
        {
            mask = text[(slash + 1)..];
            text = text[..slash];
        }
        if (!System.Net.IPAddress.TryParse(text, out var address) || address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) || text.Contains('%'))
        {
            throw AgentException.InvalidArgument($"{field}.address", $"\"{message.Address}\" is not an IP address");
        }
        var family = address.AddressFamily == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4;
        if (message.Family != family)
        {
            throw AgentException.InvalidArgument($"{field}.family", $"is {message.Family} but {message.Address} is {family}");
        }
        int max = family == IPFamily.V6 ? 128 : 32;
        int prefix;
        if (string.IsNullOrEmpty(mask))
        {
            prefix = max;
        }
        else if (int.TryParse(mask, NumberStyles.None, CultureInfo.InvariantCulture, out prefix))
        {
            if (prefix > max)
            {
                throw AgentException.InvalidArgument($"{field}.mask", $"prefix length {prefix} is not in 0..{max} for {message.Address}");
            }
        }
        else if (family == IPFamily.V4 && System.Net.IPAddress.TryParse(mask, out var netmask) && NetmaskPrefix(netmask) is { } fromNetmask)
        {
            prefix = fromNetmask;
        }
        else
        {
            throw AgentException.InvalidArgument($"{field}.mask", $"\"{mask}\" is not a prefix length (0..{max})");
        }
        return (address, prefix);
    }

    private static int? NetmaskPrefix(System.Net.IPAddress netmask)
    {
        uint bits = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(netmask.GetAddressBytes());
        int prefix = System.Numerics.BitOperations.PopCount(bits);
        return bits == (prefix == 0 ? 0 : uint.MaxValue << (32 - prefix)) ? prefix : null;
    }

    private NetworkLink FindTarget(WantedInterface wanted, string? pciName)
    {
        if (wanted.Mac is not null && Rtnl.FindLinkByAddress(wanted.Mac) is { } byMac)
        {
            return byMac;
        }
        if (wanted.Name.Length > 0 && Rtnl.FindLink(wanted.Name) is { } byName)
        {
            return byName;
        }
        if (pciName is not null && Rtnl.FindLink(pciName) is { } byPci)
        {
            return byPci;
        }
        if (wanted.Mac is not null)
        {
            throw AgentException.InvalidArgument("interface.hwAddr", $"no interface has MAC {wanted.MacText}" + (wanted.Name.Length > 0 ? $" and none is named \"{wanted.Name}\"" : ""));
        }
        throw AgentException.InvalidArgument("interface.name", $"no interface is named \"{wanted.Name}\"");
    }

    private void Apply(NetworkLink link, WantedInterface wanted)
    {
        if (wanted.Mtu != 0 && (wanted.Mtu < (link.MinMtu ?? 68) || wanted.Mtu > (link.MaxMtu ?? 65535)))
        {
            throw AgentException.InvalidArgument("interface.mtu", $"{wanted.Mtu} is not in {link.MinMtu ?? 68}..{link.MaxMtu ?? 65535} for {link.Name}");
        }
        NetworkLink? holder = wanted.Name.Length > 0 && wanted.Name != link.Name ? Rtnl.FindLink(wanted.Name) : null;
        var existing = Rtnl.ListAddresses(link.Index)
            .Where(a => !a.Address.IsIPv6LinkLocal) // the kernel manages those itself
            .ToList();

        // Taking the link down makes the kernel drop its routes and neighbours: put back what a
        // failed request took with it (registered first, so it runs last, after the link is up).
        var routes = Rtnl.ListRoutes().Where(r => r.OutputInterface == link.Index && r.Protocol != LinuxRtnetlink.RTPROT_KERNEL && r.Type == LinuxRtnetlink.RTN_UNICAST).ToList();
        var neighbours = Rtnl.ListNeighbours(link.Index).Where(n => n.State == LinuxNeighbour.NUD_PERMANENT).ToList();

        var log = new RollbackLog(_logger);
        try
        {
            int index = link.Index;
            log.Add($"restore routes and neighbours of {link.Name}", () => Restore(routes, neighbours));
            if (link.IsUp)
            {
                Step("interface", () => Rtnl.SetLinkUp(index, false));
                log.Add($"set {link.Name} down", () => Rtnl.SetLinkUp(index, true));
            }
            foreach (var old in existing)
            {
                Step("interface.IPAddresses", () => Rtnl.DeleteAddress(index, old.Address, old.PrefixLength));
                log.Add($"delete {old}", () => Rtnl.AddAddress(index, old.Address, old.PrefixLength, old.Broadcast));
            }
            for (int i = 0; i < wanted.Addresses.Count; i++)
            {
                var (address, prefix) = wanted.Addresses[i];
                Step($"interface.IPAddresses[{i}]", () => Rtnl.AddAddress(index, address, prefix));
                log.Add($"add {address}/{prefix}", () => Rtnl.DeleteAddress(index, address, prefix));
            }
            if (wanted.Mac is not null && link.Address is not null && !wanted.Mac.AsSpan().SequenceEqual(link.Address))
            {
                // Found by name (a NIC baked into a template): give it the MAC the host expects.
                Step("interface.hwAddr", () => Rtnl.SetLinkAddress(index, wanted.Mac));
                byte[] oldMac = link.Address;
                log.Add("set MAC", () => Rtnl.SetLinkAddress(index, oldMac));
            }
            if (wanted.Name.Length > 0 && wanted.Name != link.Name)
            {
                Rename(link, holder, wanted.Name, log);
            }
            if (wanted.Mtu != 0 && wanted.Mtu != link.Mtu)
            {
                Step("interface.mtu", () => Rtnl.SetLinkMtu(index, wanted.Mtu));
                uint oldMtu = link.Mtu;
                log.Add("set MTU", () => Rtnl.SetLinkMtu(index, oldMtu));
            }
            if (wanted.NoArp != link.IsNoArp)
            {
                Step("interface.raw_flags", () => Rtnl.SetLinkNoArp(index, wanted.NoArp));
                bool oldNoArp = link.IsNoArp;
                log.Add("set NOARP", () => Rtnl.SetLinkNoArp(index, oldNoArp));
            }
            Step("interface", () => Rtnl.SetLinkUp(index, true));
        }
        catch
        {
            log.RollBack();
            throw;
        }
    }

    private void Restore(List<RouteEntry> routes, List<NeighbourEntry> neighbours)
    {
        var present = Rtnl.ListRoutes();
        foreach (var route in routes.OrderBy(r => r.Gateway is null ? 0 : 1).Where(r => !present.Any(p => p.DestinationText == r.DestinationText && Equals(p.Gateway, r.Gateway) && p.OutputInterface == r.OutputInterface)))
        {
            Rtnl.AddRoute(route);
        }
        foreach (var neighbour in neighbours)
        {
            Rtnl.ReplaceNeighbour(neighbour);
        }
    }

    /// <summary>
    /// Renames the link; a link already holding the name swaps names with it, as Kata's agent
    /// does for a VM template's NIC (the holder goes through "&lt;name&gt;_temp" while the names move).
    /// </summary>
    private void Rename(NetworkLink link, NetworkLink? holder, string name, RollbackLog log)
    {
        int index = link.Index;
        string oldName = link.Name;
        if (holder is not null)
        {
            int holderIndex = holder.Index;
            string temporary = name.Length <= 10 ? $"{name}_temp" : $"{name[..10]}_temp";
            if (holder.IsUp)
            {
                Step("interface.name", () => Rtnl.SetLinkUp(holderIndex, false));
                log.Add($"set {holder.Name} down", () => Rtnl.SetLinkUp(holderIndex, true));
            }
            Step("interface.name", () => Rtnl.RenameLink(holderIndex, temporary));
            log.Add($"rename {holder.Name} to {temporary}", () => Rtnl.RenameLink(holderIndex, name));
            Step("interface.name", () => Rtnl.RenameLink(index, name));
            log.Add($"rename {oldName} to {name}", () => Rtnl.RenameLink(index, oldName));
            Step("interface.name", () => Rtnl.RenameLink(holderIndex, oldName));
            log.Add($"rename {temporary} to {oldName}", () => Rtnl.RenameLink(holderIndex, temporary));
            if (holder.IsUp)
            {
                Step("interface.name", () => Rtnl.SetLinkUp(holderIndex, true));
            }
            return;
        }
        Step("interface.name", () => Rtnl.RenameLink(index, name));
        log.Add($"rename {oldName} to {name}", () => Rtnl.RenameLink(index, oldName));
    }

    private Interface ToInterface(NetworkLink link)
    {
        var result = new Interface
        {
            Device = link.Name,
            Name = link.Name,
            Mtu = link.Mtu,
            HwAddr = link.MacText,
            Type = link.Kind ?? (link.IsLoopback ? "loopback" : ""),
            RawFlags = link.Flags,
        };
        foreach (var address in Rtnl.ListAddresses(link.Index))
        {
            result.IPAddresses.Add(new ProtoIPAddress
            {
                Family = address.Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4,
                Address = address.Address.ToString(),
                Mask = address.PrefixLength.ToString(CultureInfo.InvariantCulture),
            });
        }
        return result;
    }
}
