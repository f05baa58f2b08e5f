using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// What the shim leaves in a task's bundle (<c>kataagent.json</c>) for the <c>delete</c> action, which runs with no
/// configuration and maybe after the daemon died: the VM state directory the task owns, and whether the shim mounted
/// <c>rootfs</c>. Deleted once the task is deleted cleanly.
/// </summary>
internal sealed record BundleState
{
    public const string FileName = "kataagent.json";

    /// <summary>The state directory of the VM this task booted (a sandbox or a lone container); null for a pod's container.</summary>
    [JsonPropertyName("vmStateDirectory")]
    public string? VmStateDirectory { get; init; }

    /// <summary>The shim mounted the snapshotter's mounts on <c>&lt;bundle&gt;/rootfs</c>.</summary>
    [JsonPropertyName("rootfsMounted")]
    public bool RootfsMounted { get; init; }

    public static void Write(string bundle, BundleState state)
    {
        string path = Path.Combine(bundle, FileName);
        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(state, BundleStateJsonContext.Default.BundleState));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The state in <paramref name="bundle"/>, or null when there is none (or it is unreadable).</summary>
    public static BundleState? Read(string bundle)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(bundle, FileName)), BundleStateJsonContext.Default.BundleState);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static void Delete(string bundle) => File.Delete(Path.Combine(bundle, FileName));
}
