using KataAgent.Helpers.Processes;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Processes;

/// <summary>
/// kata-agent-init, the spawn-chain helper (agent/KataAgent.InitHelper): every container process, the pause process,
/// the sandbox namespaces and memory compaction start from it, not from the agent's own binary, whose Native-AOT
/// start-up costs several times more. It lies beside the agent (out/ on a host; beside /init in the guest image) and
/// is loaded once at start into a sealed memfd (<see cref="SealedExecutable"/>), which is what every spawn runs.
/// </summary>
internal static class InitHelper
{
    /// <summary>The helper's file name, beside the agent's binary.</summary>
    public const string FileName = "kata-agent-init";

    private static SealedExecutable? s_executable;

    /// <summary>Where the agent looks for it: beside its own binary.</summary>
    public static string DefaultLocation => Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>The path to spawn: the sealed copy.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Load"/> has not run.</exception>
    public static string ExecutablePath =>
        s_executable?.ExecutablePath ?? throw new InvalidOperationException("the spawn-chain helper kata-agent-init is not loaded (the agent loads it at start)");

    /// <summary>
    /// Copies <paramref name="location"/> into the sealed memfd every spawn runs. <paramref name="removeFile"/> (PID 1
    /// of a guest, whose / is the initramfs in RAM) then deletes the file, so the guest holds its pages once.
    /// </summary>
    /// <returns>A problem that does not stop the agent (the file could not be deleted), or null.</returns>
    /// <exception cref="InitHelperException">The helper is missing or cannot be copied.</exception>
    public static string? Load(string location, bool removeFile)
    {
        SealedExecutable executable;
        try
        {
            executable = SealedExecutable.Load(location, FileName);
        }
        catch (FileNotFoundException)
        {
            throw new InitHelperException($"the spawn-chain helper {location} is missing: it must lie beside the agent's binary (./build.sh publishes out/{FileName}; kata-rootfs build puts it beside the agent in the image)");
        }
        catch (LinuxException e)
        {
            throw new InitHelperException($"cannot load the spawn-chain helper {location}: {e.Message}");
        }
        Interlocked.Exchange(ref s_executable, executable)?.Dispose();
        if (removeFile && Libc.UnlinkAt(Libc.AT_FDCWD, location, 0) != 0)
        {
            return $"cannot delete {location} after copying it into a sealed memfd: {LinuxException.FromLastError("unlink").Message}";
        }
        return null;
    }
}
