using System.Text.Json.Nodes;

namespace KataAgent.Testing.Containerd;

/// <summary>
/// The CNI network a private containerd's CRI plugin gives its pods: Debian's containernetworking-plugins
/// <c>bridge</c> with <c>host-local</c> IPAM, a bridge of its own on the node (the host's network namespace) whose
/// address is the pods' gateway, so the node reaches a pod at its IP. No masquerading (no iptables rules); the IPAM
/// store lives in the test's directory. <see cref="Dispose"/> deletes the bridge and puts <c>net.ipv4.ip_forward</c>
/// back, the two node changes the bridge plugin makes that outlive the pods.
/// </summary>
public sealed class CniBridgeNetwork : IDisposable
{
    /// <summary>Where Debian's containernetworking-plugins installs the plugins.</summary>
    public const string PluginDirectory = "/usr/lib/cni";

    private const string IpForwardPath = "/proc/sys/net/ipv4/ip_forward";
    private readonly string _ipForwardBefore;

    /// <summary>Writes the network configuration into <paramref name="configDirectory"/> (CRI's <c>cni.conf_dir</c>).</summary>
    /// <param name="configDirectory">The CNI configuration directory, created if missing.</param>
    /// <param name="dataDirectory">host-local's lease store.</param>
    public CniBridgeNetwork(string configDirectory, string dataDirectory)
    {
        if (!File.Exists(Path.Combine(PluginDirectory, "bridge")) || !File.Exists(Path.Combine(PluginDirectory, "host-local")))
        {
            throw new InvalidOperationException($"the CNI plugins are not in {PluginDirectory}: apt-get install containernetworking-plugins (build.sh installs it)");
        }
        string suffix = Guid.NewGuid().ToString("N")[..6];
        // A /24 of 10.213.0.0/16 picked at random: away from CniLikePodNetwork's 10.88-10.90 and from containerd's
        // own 10.88 default, and unlikely to meet another private instance's.
        int third = Random.Shared.Next(1, 255);
        Subnet = $"10.213.{third}.0/24";
        Gateway = $"10.213.{third}.1";
        BridgeName = "kacni" + suffix;
        NetworkName = "kataagent-test-" + suffix;
        ConfigDirectory = Directory.CreateDirectory(configDirectory).FullName;
        _ipForwardBefore = File.ReadAllText(IpForwardPath).Trim();
        var config = new JsonObject
        {
            ["cniVersion"] = "0.4.0",
            ["name"] = NetworkName,
            ["plugins"] = new JsonArray(new JsonObject
            {
                ["type"] = "bridge",
                ["bridge"] = BridgeName,
                ["isGateway"] = true,
                ["ipMasq"] = false,
                ["hairpinMode"] = false,
                ["ipam"] = new JsonObject
                {
                    ["type"] = "host-local",
                    ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = Subnet })),
                    ["routes"] = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0" }),
                    ["dataDir"] = dataDirectory,
                },
            }),
        };
        File.WriteAllText(Path.Combine(ConfigDirectory, "10-kataagent-test.conflist"), config.ToJsonString());
    }

    /// <summary>The directory holding the network's configuration list.</summary>
    public string ConfigDirectory { get; }

    /// <summary>The pods' subnet, e.g. <c>10.213.7.0/24</c>.</summary>
    public string Subnet { get; }

    /// <summary>The bridge's address on the node: the pods' default gateway.</summary>
    public string Gateway { get; }

    /// <summary>The node's bridge device (created by the plugin with the first pod).</summary>
    public string BridgeName { get; }

    /// <summary>The CNI network name.</summary>
    public string NetworkName { get; }

    /// <summary>Deletes the bridge (if a pod made it) and restores ip_forward.</summary>
    public void Dispose()
    {
        if (Directory.Exists($"/sys/class/net/{BridgeName}"))
        {
            try
            {
                HostTools.Run("ip", "link", "del", BridgeName);
            }
            catch (InvalidOperationException)
            {
                // Gone in between: nothing left to delete.
            }
        }
        if (File.ReadAllText(IpForwardPath).Trim() != _ipForwardBefore)
        {
            File.WriteAllText(IpForwardPath, _ipForwardBefore);
        }
    }
}
