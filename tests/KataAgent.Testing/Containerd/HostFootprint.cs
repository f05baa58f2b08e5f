namespace KataAgent.Testing.Containerd;

/// <summary>
/// What a runtime leaves on the host, seen from /proc and /sys: processes whose command line names a marker (the
/// private containerd's directory, which holds the shim's state root: its qemu, virtiofsd and shims), every mount
/// point, the named network namespaces (/var/run/netns, where CRI puts its <c>cni-…</c> ones), the root namespace's
/// network devices and the shim sockets in /run/containerd/s. Two snapshots around a test give what it left.
/// </summary>
public sealed record HostFootprint(
    IReadOnlySet<string> Processes,
    IReadOnlySet<string> Mounts,
    IReadOnlySet<string> NetworkNamespaces,
    IReadOnlySet<string> Links,
    IReadOnlySet<string> ShimSockets)
{
    /// <summary>The host now; processes only if their command line contains <paramref name="marker"/>, and not <paramref name="exceptPid"/>.</summary>
    public static HostFootprint Capture(string marker, int exceptPid = 0) => new(
        ProcessesNaming(marker).Where(p => !p.StartsWith(exceptPid + " ", StringComparison.Ordinal)).ToHashSet(),
        File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4]).ToHashSet(),
        Entries("/var/run/netns"),
        Entries("/sys/class/net"),
        Entries("/run/containerd/s"));

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
