using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// The container's init helper (<c>kata-agent-init init</c>), the way runc init and Kata's rustjail work; .NET must
/// never fork. The agent spawns it already inside the container's namespaces (it enters them on the spawning thread:
/// Containers/Processes/SpawnNamespaces in the agent), so it is PID 1 of a new PID namespace (create) or a process of
/// the container's (exec). Exec joins the container's mount namespace here, through the pidfd of the container's init
/// (fd 5). It builds the rootfs (create), waits for the agent's "start", applies credentials, capabilities,
/// no_new_privs and seccomp, and execs the workload. Protocol on fd 3 (see <see cref="SyncChannel"/>): the agent sends
/// "joined" once the helper is in the container's cgroup; with a terminal, the helper sends "console" carrying the pty
/// master (SCM_RIGHTS); it sends "ready" (create), the agent "start"; a failure is sent as "error TEXT"; a successful
/// exec closes fd 3 (CLOEXEC), which the agent reads as EOF.
/// </summary>
internal static class ContainerInit
{
    /// <summary>The helper mode's name.</summary>
    public const string ModeName = "init";

    public static int Run()
    {
        try
        {
            Setup(SyncChannel.ReadConfig());
            return 0;
        }
        catch (Exception e)
        {
            TrySend($"error {e.Message}");
            return 1;
        }
    }

    private static void Setup(InitConfig config)
    {
        // Inherited without CLOEXEC (that is how they got here); they must not reach the workload.
        SetCloseOnExec(SyncChannel.Fd);
        SetCloseOnExec(SyncChannel.ConfigFd);
        if (config.Mode == "exec")
        {
            Libc.Check(Libc.Unshare(Libc.CLONE_FS), "unshare(CLONE_FS)");
            Libc.Check(Libc.SetNs(ContainerPidFd, Libc.CLONE_NEWNS), "setns into the container's mount namespace");
            Libc.Close(ContainerPidFd);
        }
        SyncChannel.Expect("joined");
        if (config.NewCgroupNamespace)
        {
            Libc.Check(Libc.Unshare(Libc.CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
        }
        if (config.Mode == "create")
        {
            if (config.Rootfs is not null)
            {
                RootfsSetup.Prepare(config);
            }
            if (config.Hostname is { } hostname)
            {
                Credentials.SetHostname(hostname);
            }
            if (config.Terminal)
            {
                ConsoleSetup.CreateAndSend(config);
            }
            SyncChannel.Send("ready");
        }
        else if (config.Terminal)
        {
            ConsoleSetup.CreateAndSend(config);
        }
        SyncChannel.Expect("start");
        Credentials.ApplyAndExec(config);
    }

    /// <summary>The helper's fd for the pidfd of the container's init (exec only).</summary>
    private const int ContainerPidFd = 5;

    private static void SetCloseOnExec(int fd)
    {
        Libc.Check(Libc.Fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC), $"fcntl(FD_CLOEXEC) on fd {fd}");
    }

    private static void TrySend(string message)
    {
        try
        {
            SyncChannel.Send(message.Length > 3500 ? message[..3500] : message);
        }
        catch (LinuxException)
        {
            // The agent is gone; nothing else can be told.
        }
    }
}
