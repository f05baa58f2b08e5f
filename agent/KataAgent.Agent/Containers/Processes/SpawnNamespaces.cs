using KataAgent.Helpers.Containers.Init;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// The namespaces a container process starts in, entered by the thread that spawns its init helper (see
/// <see cref="KataAgent.Linux.Namespaces.NamespaceThread"/>), so the helper is born in them: what a first helper
/// process (runc's nsexec stage) used to do before spawning a second. Exec joins every namespace of the container's
/// init through its pidfd but the mount namespace, which the helper joins itself once it runs (the agent's /proc
/// must still resolve its sealed executable); create joins the configured namespace files, then unshares the new ones.
/// </summary>
internal static class SpawnNamespaces
{
    /// <summary>Moves the calling thread; <paramref name="containerPidfd"/> is the container init's pidfd (exec).</summary>
    /// <exception cref="LinuxException">A namespace cannot be joined or created.</exception>
    public static void Enter(InitConfig config, int containerPidfd)
    {
        if (config.Mode == "exec")
        {
            int flags = config.JoinPidFlags & ~Libc.CLONE_NEWNS;
            if (flags != 0)
            {
                Libc.Check(Libc.SetNs(containerPidfd, flags), "setns into the container's namespaces");
            }
            return;
        }
        if (config.Join.Count > 0)
        {
            // setns(CLONE_NEWNS) of a joined mount namespace needs a filesystem context of this thread's own.
            Libc.Check(Libc.Unshare(Libc.CLONE_FS), "unshare(CLONE_FS)");
        }
        foreach (var join in config.Join)
        {
            int fd = Libc.Open(join.Path, Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0)
            {
                throw LinuxException.FromLastError($"open namespace {join.Path}");
            }
            try
            {
                Libc.Check(Libc.SetNs(fd, join.Type), $"setns {join.Path}");
            }
            finally
            {
                Libc.Close(fd);
            }
        }
        Libc.Check(Libc.Unshare(config.UnshareFlags), "unshare of the container's namespaces");
    }
}
