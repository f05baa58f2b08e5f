namespace KataAgent.Testing;

/// <summary>
/// Whether a process runs, from /proc. A daemonized qemu is reparented to PID 1 (or a subreaper), which reaps it
/// when it gets round to it: until then it is a zombie, which has exited and counts as gone.
/// </summary>
public static class ProcessState
{
    /// <summary>Whether <paramref name="pid"/> exists and is neither a zombie nor dead.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // The state letter follows the parenthesised command name.
            return stat[stat.LastIndexOf(')') + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="pid"/> has stopped running within <paramref name="limit"/> (an exit is observed, not timed).</summary>
    public static async Task<bool> ExitsWithinAsync(int pid, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (IsRunning(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(50);
        }
        return true;
    }

    /// <summary>The parent pid of <paramref name="pid"/>, from /proc/PID/stat.</summary>
    public static int ParentOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
    }

    /// <summary>SIGKILL for a test's leftover qemu, if it still runs and its command line names <paramref name="stateDirectory"/> (not a recycled pid).</summary>
    public static void Kill(int pid, string stateDirectory)
    {
        string commandLine;
        try
        {
            commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return;
        }
        if (IsRunning(pid) && commandLine.Contains(stateDirectory, StringComparison.Ordinal))
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
    }
}
