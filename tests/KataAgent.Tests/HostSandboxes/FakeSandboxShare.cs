using KataAgent.Host.Sandboxes;
using KataAgent.Host.SharedFs;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// A share for the sandbox's ordering tests: no mounts, every call written to the shared log, the guest paths the
/// real <see cref="SandboxShare"/> would give (volumes numbered instead of random).
/// </summary>
internal sealed class FakeSandboxShare(List<string> log) : ISandboxShare
{
    private readonly HashSet<string> _shared = new(StringComparer.Ordinal);
    private int _volumes;

    public string SharedDirectory => "/state/shared";

    /// <summary>When set, ShareVolume fails as a bind the kernel refused.</summary>
    public Exception? ShareVolumeFailure { get; set; }

    public string ShareRootfs(string containerId, string rootfsDirectory)
    {
        log.Add($"ShareRootfs {containerId}");
        _shared.Add(containerId);
        return Sandbox.SharedRootfsPath(containerId);
    }

    public string ShareVolume(string containerId, string source, string destination, bool readOnly)
    {
        log.Add($"ShareVolume {containerId} {source} {(readOnly ? "ro" : "rw")}");
        if (ShareVolumeFailure is { } failure)
        {
            throw failure;
        }
        return $"{Sandbox.GuestShareDirectory}{containerId}-{++_volumes:x16}-{Path.GetFileName(destination)}";
    }

    public bool Has(string containerId) => _shared.Contains(containerId);

    public void Unshare(string containerId)
    {
        log.Add($"Unshare {containerId}");
        _shared.Remove(containerId);
    }

    public void UnmountAll() => log.Add("UnmountAll");
}
