namespace KataAgent.Testing;

/// <summary>The virtiofsd processes on this host that serve a socket in a given directory, from /proc.</summary>
public static class VirtiofsdProcesses
{
    /// <summary>Pids of running (not zombie) virtiofsd processes whose command line names a path in <paramref name="directory"/>.</summary>
    public static IReadOnlyList<int> In(string directory)
    {
        string needle = "--socket-path=" + Path.GetFullPath(directory).TrimEnd('/') + "/";
        var pids = new List<int>();
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid))
            {
                continue;
            }
            try
            {
                string[] words = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
                if (words.Length > 0 && Path.GetFileName(words[0]) == "virtiofsd" && words.Any(w => w.StartsWith(needle, StringComparison.Ordinal)) && ProcessState.IsRunning(pid))
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }

    /// <summary>The lock file qemu 7.2's virtiofsd keeps for a socket path (and never removes itself).</summary>
    public static string LockFileFor(string socketPath) => "/var/run/virtiofsd/" + socketPath.Replace('/', '.') + ".pid";
}
