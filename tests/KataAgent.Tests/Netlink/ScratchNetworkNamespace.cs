using System.Text.Json;
using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Tests.Netlink;

/// <summary>
/// A network namespace of the test's own (ip netns add, a unique name), with an rtnetlink handle
/// inside it, and ip(8)/tc(8) runners for cross-checking in JSON. Deleted on dispose, with
/// everything in it.
/// </summary>
internal sealed class ScratchNetworkNamespace : IDisposable
{
    public ScratchNetworkNamespace()
    {
        Name = $"ka-{Guid.NewGuid():N}"[..15];
        Run("ip", "netns", "add", Name);
        try
        {
            Rtnl = Rtnetlink.OpenInNamespace(Path);
        }
        catch
        {
            Run("ip", "netns", "del", Name);
            throw;
        }
    }

    public string Name { get; }

    public string Path => $"/var/run/netns/{Name}";

    /// <summary>Our codec, bound to this namespace.</summary>
    public Rtnetlink Rtnl { get; }

    /// <summary>ip -n NAME -d -j ARGS, parsed.</summary>
    public JsonElement IpJson(params string[] args) => Parse(Run("ip", ["-n", Name, "-d", "-j", .. args]));

    /// <summary>tc -n NAME -j -s ARGS, parsed.</summary>
    public JsonElement TcJson(params string[] args) => Parse(Run("tc", ["-n", Name, "-j", "-s", .. args]));

    /// <summary>ip -n NAME ARGS (setup in tests only).</summary>
    public string Ip(params string[] args) => Run("ip", ["-n", Name, .. args]);

    public void Dispose()
    {
        Rtnl.Dispose();
        Run("ip", "netns", "del", Name);
    }

    private static JsonElement Parse(string json) =>
        JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json).RootElement.Clone();

    /// <summary>Runs a tool; a non-zero exit fails the test with its stderr.</summary>
    private static string Run(string program, params string[] args) => HostTools.Run(program, args);
}
