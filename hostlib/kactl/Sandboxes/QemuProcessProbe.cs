namespace KataAgent.Kactl.Sandboxes;

/// <summary>
/// Tells whether a recorded qemu pid is still that sandbox's qemu. A pid alone is not enough:
/// after the VM is gone the number can be reused by any process, so its command line must be a
/// qemu's and name the sandbox's state directory (every socket and log qemu opens lives there).
/// </summary>
public static class QemuProcessProbe
{
    /// <summary>True when <paramref name="pid"/> runs qemu with a path under <paramref name="stateDirectory"/> on its command line.</summary>
    public static bool IsSandboxQemu(int pid, string stateDirectory)
    {
        if (pid <= 0)
        {
            return false;
        }
        string[] argv;
        try
        {
            argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No such process (or it is exiting: a zombie's cmdline is empty, handled below).
            return false;
        }
        if (argv.Length == 0 || !Path.GetFileName(argv[0]).StartsWith("qemu", StringComparison.Ordinal))
        {
            return false;
        }
        string directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(stateDirectory)) + "/";
        return argv.Skip(1).Any(argument => argument.Contains(directory, StringComparison.Ordinal));
    }
}
