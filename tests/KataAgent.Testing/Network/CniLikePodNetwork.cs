using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Testing.Network;

/// <summary>
/// A pod network namespace wired the way CNI's bridge plugin does it, made with ip(8) (tests only):
/// a "node" netns with a bridge (10.88.0.1/24), a veth pair whose pod end is eth0 (10.88.0.2/24,
/// default route via the bridge address) and a permanent neighbour in the pod. IPv6 is off in both so
/// that snapshots are deterministic. Both namespaces are deleted on dispose. Used by the host network
/// tests, the VM tests and the network benchmark.
/// </summary>
public sealed class CniLikePodNetwork : IDisposable
{
    /// <summary>The bridge's address in the node netns: the pod's gateway.</summary>
    public const string NodeAddress = "10.88.0.1";
    /// <summary>The pod end's (eth0's) address.</summary>
    public const string PodAddress = "10.88.0.2";
    /// <summary>The pod end's MAC address.</summary>
    public const string PodMac = "02:88:00:00:00:02";
    /// <summary>The permanent neighbour's address in the pod.</summary>
    public const string NeighbourAddress = "10.88.0.99";
    /// <summary>The permanent neighbour's MAC address.</summary>
    public const string NeighbourMac = "02:88:00:00:00:99";

    private readonly List<string> _podDevices = ["eth0"];

    /// <summary>Makes both namespaces and the wiring (as root).</summary>
    public CniLikePodNetwork()
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        NodeName = "kn-" + suffix;
        PodName = "kp-" + suffix;
        NodeVeth = "veth" + suffix;
        Ip("netns", "add", NodeName);
        try
        {
            Ip("netns", "add", PodName);
            foreach (string ns in new[] { NodeName, PodName })
            {
                Run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
                Ip("-n", ns, "link", "set", "lo", "up");
            }
            Ip("-n", NodeName, "link", "add", "cni0", "type", "bridge", "forward_delay", "0");
            Ip("-n", NodeName, "addr", "add", NodeAddress + "/24", "dev", "cni0");
            Ip("-n", NodeName, "link", "set", "cni0", "up");
            Ip("-n", NodeName, "link", "add", NodeVeth, "type", "veth", "peer", "name", "eth0", "netns", PodName);
            Ip("-n", NodeName, "link", "set", NodeVeth, "master", "cni0", "up");
            Ip("-n", PodName, "link", "set", "eth0", "address", PodMac);
            Ip("-n", PodName, "addr", "add", PodAddress + "/24", "dev", "eth0");
            Ip("-n", PodName, "link", "set", "eth0", "up");
            Ip("-n", PodName, "route", "add", "default", "via", NodeAddress, "dev", "eth0");
            Ip("-n", PodName, "neigh", "add", NeighbourAddress, "lladdr", NeighbourMac, "dev", "eth0", "nud", "permanent");
            WaitForBridgeUp();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The bridge's operstate goes from UNKNOWN to UP on its own once its port forwards; snapshots must not see that happen.</summary>
    private void WaitForBridgeUp()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!Ip("-n", NodeName, "-j", "link", "show", "cni0").Contains("\"operstate\":\"UP\"", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("the node's bridge cni0 did not come up within 30 s");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>The node netns (ip netns name).</summary>
    public string NodeName { get; }

    /// <summary>The pod netns (ip netns name).</summary>
    public string PodName { get; }

    /// <summary>The node end of the pod's veth (on the bridge).</summary>
    public string NodeVeth { get; }

    /// <summary>The pod netns's path, as a runtime gets it from CNI.</summary>
    public string PodPath => $"/var/run/netns/{PodName}";

    /// <summary>The node netns's path.</summary>
    public string NodePath => $"/var/run/netns/{NodeName}";

    /// <summary>A second pod interface, eth1 (10.89.0.2/24, a veth straight to the node's 10.89.0.1), for multi-NIC and half-way failure cases.</summary>
    public void AddSecondInterface()
    {
        _podDevices.Add("eth1");
        Ip("-n", NodeName, "link", "add", "nveth1", "type", "veth", "peer", "name", "eth1", "netns", PodName);
        Ip("-n", NodeName, "addr", "add", "10.89.0.1/24", "dev", "nveth1");
        Ip("-n", NodeName, "link", "set", "nveth1", "up");
        Ip("-n", PodName, "addr", "add", "10.89.0.2/24", "dev", "eth1");
        Ip("-n", PodName, "link", "set", "eth1", "up");
        Ip("-n", PodName, "route", "add", "10.90.0.0/16", "via", "10.89.0.1", "dev", "eth1");
    }

    /// <summary>Everything an endpoint could change, as ip/tc print it: links, addresses, routes, neighbours, qdiscs, filters, ping_group_range.</summary>
    public string Snapshot()
    {
        var text = new StringBuilder();
        text.AppendLine(Ip("-n", PodName, "-d", "-j", "link", "show"));
        text.AppendLine(Ip("-n", PodName, "-j", "addr", "show"));
        text.AppendLine(Ip("-n", PodName, "-j", "route", "show", "table", "all"));
        text.AppendLine(Ip("-n", PodName, "-j", "neigh", "show", "nud", "permanent"));
        text.AppendLine(Run("tc", "-n", PodName, "-j", "qdisc", "show"));
        foreach (string dev in _podDevices)
        {
            text.AppendLine(Run("tc", "-n", PodName, "-j", "filter", "show", "dev", dev, "ingress"));
        }
        text.AppendLine(Run("ip", "netns", "exec", PodName, "cat", "/proc/sys/net/ipv4/ping_group_range"));
        // Without -d: the bridge's details carry running timers.
        text.AppendLine(Ip("-n", NodeName, "-j", "link", "show"));
        return text.ToString();
    }

    /// <summary>The lines of <see cref="Snapshot"/> that differ from <paramref name="before"/> ("-" before, "+" now); empty when none.</summary>
    public string DifferencesFrom(string before)
    {
        string[] was = before.Split('\n');
        string[] now = Snapshot().Split('\n');
        var differences = new StringBuilder();
        for (int i = 0; i < Math.Max(was.Length, now.Length); i++)
        {
            string a = i < was.Length ? was[i] : "";
            string b = i < now.Length ? now[i] : "";
            if (a != b)
            {
                differences.Append("- ").AppendLine(a).Append("+ ").AppendLine(b);
            }
        }
        return differences.ToString();
    }

    /// <summary>
    /// GET <paramref name="url"/> with busybox wget from the node netns (under timeout(1): busybox-static 1.35's
    /// wget -T crashes), again every half second until it answers or <paramref name="limit"/> has passed: a
    /// server in a guest starts asynchronously. Returns the body; throws with wget's last error.
    /// </summary>
    public async Task<string> FetchFromNodeAsync(string url, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var result = await Cli.Wrap("ip").WithArguments(["netns", "exec", NodeName, "timeout", "15", "/bin/busybox", "wget", "-q", "-O", "-", url])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            if (result.ExitCode == 0)
            {
                return result.StandardOutput;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"wget {url} from the node netns: exit {result.ExitCode}: {result.StandardError.Trim()}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>ip ARGS; a failure throws with ip's stderr.</summary>
    public static string Ip(params string[] args) => Run("ip", args);

    /// <summary>Deletes both namespaces, with everything in them.</summary>
    public void Dispose()
    {
        foreach (string ns in new[] { PodName, NodeName })
        {
            if (File.Exists($"/var/run/netns/{ns}"))
            {
                Run("ip", "netns", "del", ns);
            }
        }
    }

    /// <summary>Runs a tool; a non-zero exit throws with its stderr.</summary>
    public static string Run(string program, params string[] args) => HostTools.Run(program, args);
}
