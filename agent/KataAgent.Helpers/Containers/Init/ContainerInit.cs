using KataAgent.Linux.Interop;
using KataAgent.Helpers.Processes;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// The agent re-executed in a helper mode, the way runc and Kata's rustjail do; .NET must never
/// fork. Stage 1 (<c>kata-agent init</c>), a fresh process, joins/unshares namespaces on its main
/// thread, spawns stage 2 into them and exits. Stage 2 (<c>kata-agent init2</c>) is PID 1 of the
/// new PID namespace: it builds the rootfs, waits for the agent's "start", applies credentials,
/// capabilities, no_new_privs and seccomp, and execs the workload. Protocol on fd 3 (see
/// <see cref="SyncChannel"/>): stage 1 sends "pid N"; the agent answers "joined" once stage 2 is
/// in its cgroup; with a terminal, stage 2 sends "console" carrying the pty master (SCM_RIGHTS);
/// stage 2 sends "ready", the agent "start"; a failure is sent as "error TEXT";
/// a successful exec closes fd 3 (CLOEXEC), which the agent reads as EOF.
/// After unshare(CLONE_NEWPID) stage 1 must not start a thread: only raw calls happen there.
/// </summary>
internal static class ContainerInit
{
    public const string StageOne = "init";
    public const string StageTwo = "init2";

    public static int Run(string stage)
    {
        try
        {
            var config = SyncChannel.ReadConfig();
            if (stage == StageOne)
            {
                RunStageOne(config);
            }
            else
            {
                RunStageTwo(config);
            }
            return 0;
        }
        catch (Exception e)
        {
            TrySend($"error {e.Message}");
            return 1;
        }
    }

    private static void RunStageOne(InitConfig config)
    {
        int pidfd = -1;
        if (config.Mode == "exec")
        {
            pidfd = Libc.PidfdOpen(config.JoinPid);
            if (pidfd < 0)
            {
                throw LinuxException.FromLastError($"pidfd_open of the container's init (pid {config.JoinPid})");
            }
            // Everything but the mount namespace: stage 2 must still find /proc/self/exe here.
            // It joins the mount namespace itself, through this pidfd (its fd 5).
            int flags = config.JoinPidFlags & ~Libc.CLONE_NEWNS;
            if (flags != 0)
            {
                Libc.Check(Libc.SetNs(pidfd, flags), "setns into the container's namespaces");
            }
        }
        else
        {
            if (config.Join.Count > 0)
            {
                Libc.Check(Libc.Unshare(Libc.CLONE_FS), "unshare(CLONE_FS)");
            }
            foreach (var join in config.Join)
            {
                int fd = Libc.Open(join.Path, Libc.O_RDONLY | Libc.O_CLOEXEC);
                if (fd < 0)
                {
                    throw LinuxException.FromLastError($"open namespace {join.Path}");
                }
                Libc.Check(Libc.SetNs(fd, join.Type), $"setns {join.Path}");
                Libc.Close(fd);
            }
            Libc.Check(Libc.Unshare(config.UnshareFlags), "unshare of the container's namespaces");
        }

        int[] fds = pidfd >= 0 ? [0, 1, 2, SyncChannel.Fd, SyncChannel.ConfigFd, pidfd] : [0, 1, 2, SyncChannel.Fd, SyncChannel.ConfigFd];
        int pid = ProcessSpawner.Spawn("/proc/self/exe", ["kata-agent", StageTwo], [], fds);
        SyncChannel.Send($"pid {pid}");
    }

    private static void RunStageTwo(InitConfig config)
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

    /// <summary>Stage 2's fd for the pidfd of the container's init (exec only).</summary>
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
