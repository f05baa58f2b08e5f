namespace KataAgent.Testing.Containerd;

/// <summary>
/// What a runtime leaves on the host, seen from /proc and /sys: processes whose command line names a marker (the
/// private containerd's directory, which holds the shim's state root: its qemu, virtiofsd and shims), the mount
/// points below that directory (bundles' rootfs, the VMs' shares) and CRI's network namespaces (<c>cni-…</c> in
/// /var/run/netns, and their mount points), the CNI bridge and the links enslaved to it, and the shim sockets in
/// /run/containerd/s. Two snapshots around a test give what it left. Only what this containerd can have made is
/// looked at: the other test projects run beside it, with mounts, namespaces and links of their own.
/// </summary>
public sealed record HostFootprint(
    IReadOnlySet<string> Processes,
    IReadOnlySet<string> Mounts,
    IReadOnlySet<string> NetworkNamespaces,
    IReadOnlySet<string> Links,
    IReadOnlySet<string> ShimSockets)
{
    /// <summary>
    /// The host now: processes whose command line contains <paramref name="marker"/> (but <paramref name="exceptPid"/>),
    /// mounts below it or of CRI's netns, CRI's netns, <paramref name="bridge"/> and what is enslaved to it.
    /// </summary>
    public static HostFootprint Capture(string marker, string? bridge, int exceptPid = 0) => new(
        ProcessesNaming(marker).Where(p => !p.StartsWith(exceptPid + " ", StringComparison.Ordinal)).ToHashSet(),
        File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4])
            .Where(m => m.StartsWith(marker.TrimEnd('/') + "/", StringComparison.Ordinal) || IsCriNetns(Path.GetFileName(m)) && m.Contains("/netns/", StringComparison.Ordinal))
            .ToHashSet(),
        Entries("/var/run/netns").Where(IsCriNetns).ToHashSet(),
        bridge is null ? [] : Entries("/sys/class/net").Where(link => link == bridge || IsEnslavedTo(link, bridge)).ToHashSet(),
        Entries("/run/containerd/s"));

    /// <summary>CRI names the pod network namespaces it makes <c>cni-&lt;uuid&gt;</c>.</summary>
    private static bool IsCriNetns(string name) => name.StartsWith("cni-", StringComparison.Ordinal);

    private static bool IsEnslavedTo(string link, string bridge)
    {
        // A symlink to the bridge's directory; LinkTarget reads the link itself.
        return new FileInfo($"/sys/class/net/{link}/master").LinkTarget is { } target && Path.GetFileName(target) == bridge;
    }

    /// <summary>What <paramref name="later"/> has that this snapshot had not, one line per item; empty when nothing was left.</summary>
    public IReadOnlyList<string> Added(HostFootprint later) =>
    [
        .. later.Processes.Except(Processes).Select(p => "process " + p),
        .. later.Mounts.Except(Mounts).Select(m => "mount " + m),
        .. later.NetworkNamespaces.Except(NetworkNamespaces).Select(n => "netns " + n),
        .. later.Links.Except(Links).Select(l => "link " + l),
        .. later.ShimSockets.Except(ShimSockets).Select(s => "socket /run/containerd/s/" + s),
    ];

    /// <summary>"pid comm args" of every live process whose command line contains <paramref name="marker"/>.</summary>
    public static IReadOnlySet<string> ProcessesNaming(string marker)
    {
        var found = new HashSet<string>();
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            string name = Path.GetFileName(entry);
            if (!int.TryParse(name, out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ').Trim();
                if (commandLine.Contains(marker, StringComparison.Ordinal) && ProcessState.IsRunning(pid))
                {
                    found.Add($"{pid} {commandLine}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }
        return found;
    }

    private static HashSet<string> Entries(string directory) =>
        Directory.Exists(directory) ? Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().ToHashSet() : [];
}
