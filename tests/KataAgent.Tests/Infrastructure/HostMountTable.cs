using System.Text.RegularExpressions;

namespace KataAgent.Tests.Infrastructure;

/// <summary>The host's mount table as leak checks compare it.</summary>
public static partial class HostMountTable
{
    private static readonly string TempRoot = Path.GetTempPath();

    /// <summary>
    /// /proc/self/mountinfo without /run/netns: the network tests (in this assembly and in the VM
    /// suite, which runs in another process at the same time) add and delete named network
    /// namespaces there, and the agent never mounts there. Likewise without the virtio-fs share layouts
    /// (<c>mounts/</c>, <c>shared/</c>, <c>private/</c>, kactl's <c>rootfs-overlay/merged</c>) of sandboxes in
    /// scratch directories: the VM suite's sandboxes and kactl's runs make them in the host's mount namespace
    /// while these checks run, and the agent never mounts there either. Nor the rootfs mounts of containers' bundles
    /// that the VM suite's shims make (its harness's <c>shim-bundle-ID/rootfs</c>, a private containerd's
    /// <c>io.containerd.runtime.v2.task/NS/ID/rootfs</c>), nor the private containerd's own short-lived
    /// <c>tmpmounts/containerd-mountN</c> (a snapshot it mounts for a moment to unpack or read an image). A test that checks share layouts itself
    /// names its own scratch directory (<paramref name="ownScratch"/>): every mount below it is kept.
    /// </summary>
    public static string ReadWithoutNetns(string? ownScratch = null) => string.Join('\n', File.ReadAllLines("/proc/self/mountinfo")
        .Where(line => line.Split(' ') is [_, _, _, _, string mountPoint, ..]
            && mountPoint != "/run/netns" && !mountPoint.StartsWith("/run/netns/", StringComparison.Ordinal)
            && !(IsAnotherSandboxShare(mountPoint) && !IsBelow(mountPoint, ownScratch))));

    private static bool IsAnotherSandboxShare(string mountPoint) =>
        mountPoint.StartsWith(TempRoot, StringComparison.Ordinal) && SandboxShareLayout().IsMatch(mountPoint);

    private static bool IsBelow(string mountPoint, string? directory) =>
        directory is not null && (mountPoint == directory || mountPoint.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal));

    [GeneratedRegex("/(mounts|shared|private)(/|$)|/rootfs-overlay/merged(/|$)|/shim-bundle-[^/]+/rootfs(/|$)|/io\\.containerd\\.runtime\\.v2\\.task/[^/]+/[^/]+/rootfs(/|$)|/tmpmounts/containerd-mount[0-9]+(/|$)")]
    private static partial Regex SandboxShareLayout();
}
