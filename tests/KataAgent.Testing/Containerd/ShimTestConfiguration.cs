using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataAgent.Testing.Containerd;

/// <summary>
/// The shim configuration file the tests give containerd-shim-kataagent-v2 (docs/SHIM.md, "Configuration"):
/// ./build.sh's out/vmlinuz and out/initrd.img, KVM only where /dev/kvm exists (TCG otherwise), and a state root of
/// the test's own so that what the shim leaves behind can be told from another suite's.
/// </summary>
public static class ShimTestConfiguration
{
    /// <summary>Whether qemu can use KVM here; without /dev/kvm the VMs run under TCG.</summary>
    public static bool KvmAvailable => File.Exists("/dev/kvm");

    /// <summary>Writes the configuration to <paramref name="path"/>, the shim's state under <paramref name="stateRoot"/>.</summary>
    /// <param name="path">Where the JSON file goes.</param>
    /// <param name="stateRoot">The shim's <c>stateRoot</c>: its VMs' state directories and sockets.</param>
    /// <param name="extra">Further keys (camelCase, as the file takes them), e.g. <c>sizing</c>; they override the defaults here.</param>
    public static void Write(string path, string stateRoot, IReadOnlyDictionary<string, JsonNode?>? extra = null)
    {
        var json = new JsonObject
        {
            ["kernel"] = RepoPaths.Kernel,
            ["initrd"] = RepoPaths.Initrd,
            ["stateRoot"] = stateRoot,
            ["allowKvm"] = KvmAvailable,
            // Under TCG on a shared 2-core machine a boot plus the agent's first answer can take tens of seconds.
            ["agentTimeoutSeconds"] = 120,
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, JsonNode?>())
        {
            json[key] = value?.DeepClone();
        }
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
