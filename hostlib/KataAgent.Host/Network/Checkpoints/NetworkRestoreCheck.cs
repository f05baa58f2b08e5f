using System.Net;
using KataAgent.Host.Network.Endpoints;
using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Checkpoints;

/// <summary>
/// Whether a pod netns can take a checkpointed VM's NICs, decided before anything is changed there (and before qemu
/// starts): each NIC's interface present by name with the pod's addresses (the pod IP is kept: the guest has it in
/// memory) and MTU, and nothing of another VM's wiring in the way (a tap or macvtap of the name the NIC needs, an
/// ingress qdisc on the interface, a macvtap already on it).
/// </summary>
internal static class NetworkRestoreCheck
{
    /// <summary>The target's interfaces for <paramref name="checkpoint"/>'s NICs, in their order.</summary>
    /// <exception cref="PodNetworkException">Every problem found, named.</exception>
    public static IReadOnlyList<PodInterface> Match(NetworkCheckpoint checkpoint, PodNetwork network)
    {
        var problems = new List<string>();
        var matched = new List<PodInterface>();
        if (checkpoint.Model == NetworkModel.None)
        {
            return matched;
        }
        if (checkpoint.Nics.Count == 0 || (checkpoint.Model == NetworkModel.Passt && checkpoint.Nics.Count != 1))
        {
            throw new PodNetworkException($"the network checkpoint is inconsistent: {checkpoint.Nics.Count} NICs with the {checkpoint.Model} model");
        }
        using var rtnl = PodNetworkScanner.Open(network.NamespacePath);
        var links = rtnl.ListLinks();
        for (int i = 0; i < checkpoint.Nics.Count; i++)
        {
            var nic = checkpoint.Nics[i];
            string field = $"nics[{i}] ({nic.Name})";
            var link = links.FirstOrDefault(l => l.Name == nic.Name);
            if (link is null)
            {
                problems.Add($"{field}: it has no interface {nic.Name}");
                continue;
            }
            var pod = network.Interfaces.FirstOrDefault(p => p.Name == nic.Name);
            var have = pod?.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}").ToList() ?? [];
            var missing = nic.Addresses.Where(a => !have.Any(h => SameAddress(h, a))).ToList();
            if (pod is null || missing.Count > 0)
            {
                // Not the end of the checks: another VM's wiring (which takes a macvtap's addresses) is the likelier cause to name.
                problems.Add($"{field}: {nic.Name} has {(have.Count == 0 ? "no address" : string.Join(", ", have))}, not the pod's {string.Join(", ", missing)} (a restore keeps the pod IP, so the target's interface must carry it)");
            }
            if (link.Mtu != nic.Mtu)
            {
                problems.Add($"{field}: {nic.Name} has MTU {link.Mtu}, the pod's NIC {nic.Mtu}");
            }
            if (checkpoint.Model is NetworkModel.TcFilter or NetworkModel.Macvtap)
            {
                string tap = TcFilterEndpoint.TapName(i);
                if (links.FirstOrDefault(l => l.Name == tap) is { } taken)
                {
                    problems.Add($"{field}: it already has an interface {tap} ({taken.Kind ?? "device"}, index {taken.Index}), the name the NIC's {(checkpoint.Model == NetworkModel.TcFilter ? "tap" : "macvtap")} needs: is another VM wired there?");
                }
            }
            if (checkpoint.Model == NetworkModel.TcFilter && rtnl.ListQdiscs(link.Index).Any(q => q.Kind == "ingress"))
            {
                problems.Add($"{field}: {nic.Name} already has an ingress qdisc (another VM's redirect?)");
            }
            if (checkpoint.Model == NetworkModel.Macvtap)
            {
                if (link.Address is not { Length: 6 })
                {
                    problems.Add($"{field}: {nic.Name} has no MAC address: macvtap needs an Ethernet link");
                }
                foreach (var upper in links.Where(l => l.LinkIndex == link.Index && l.Kind is "macvtap" or "macvlan"))
                {
                    problems.Add($"{field}: {nic.Name} already has {upper.Kind} {upper.Name} on it (another VM's NIC?)");
                }
            }
            if (pod is not null)
            {
                matched.Add(pod);
            }
        }
        if (problems.Count > 0)
        {
            throw new PodNetworkException($"the network namespace {network.NamespacePath} cannot take the restored pod's {checkpoint.Model} network: {string.Join("; ", problems)}");
        }
        return matched;
    }

    private static bool SameAddress(string a, string b)
    {
        int sa = a.LastIndexOf('/');
        int sb = b.LastIndexOf('/');
        return sa > 0 && sb > 0 && a[(sa + 1)..] == b[(sb + 1)..]
            && IPAddress.TryParse(a[..sa], out var x) && IPAddress.TryParse(b[..sb], out var y) && x.Equals(y);
    }
}
