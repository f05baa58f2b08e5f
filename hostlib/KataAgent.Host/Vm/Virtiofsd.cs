using System.Globalization;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.Vm;

/// <summary>
/// One virtiofsd (qemu 7.2's C daemon) serving one <see cref="QemuSharedDirectory"/> of one VM: it listens on a unix
/// socket in the state directory, accepts qemu's one vhost-user connection and exits when qemu disconnects, so it lives
/// exactly one VM lifetime. Started through a small shell that records its pid (virtiofsd-TAG.pid), sends its output to
/// virtiofsd-TAG.log and then execs it, so the pid is virtiofsd's. For a VM this process owns it runs under
/// <c>setpriv --pdeathsig KILL</c> from a thread that lives as long as it (as qemu does), so it dies with its owner;
/// for a detached VM it is started in a session of its own (<c>setsid -f</c>) and outlives its starter like qemu.
/// </summary>
internal sealed class Virtiofsd
{
    /// <summary>The Debian package that ships /usr/lib/qemu/virtiofsd.</summary>
    public const string Package = "qemu-system-common";

    /// <summary>How long virtiofsd may take to create its socket (it does so at once; TCG does not slow it).</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a SIGTERMed virtiofsd gets before SIGKILL.</summary>
    private static readonly TimeSpan TerminateGrace = TimeSpan.FromSeconds(2);

    private CommandTask<CommandResult>? _child;
    private QemuProcess? _process;
    private volatile bool _stopping;

    private Virtiofsd(QemuSharedDirectory share, string stateDirectory)
    {
        Share = share;
        SocketPath = SocketPathFor(stateDirectory, share.Tag);
        LogPath = LogPathFor(stateDirectory, share.Tag);
        PidFilePath = PidFilePathFor(stateDirectory, share.Tag);
    }

    public QemuSharedDirectory Share { get; }

    /// <summary>The vhost-user socket qemu connects to.</summary>
    public string SocketPath { get; }

    /// <summary>virtiofsd's stderr (its log lines) and the launching shell's.</summary>
    public string LogPath { get; }

    /// <summary>The pid file the launching shell writes before it execs virtiofsd.</summary>
    public string PidFilePath { get; }

    public int ProcessId { get; private set; }

    /// <summary>Set before an exit this side asked for (VM stop, share removal), so it is not taken for a failure.</summary>
    public bool Stopping => _stopping;

    /// <summary>Completes when virtiofsd has exited: its exit code when it is this process's child, else null.</summary>
    public Task<int?> Exited { get; private set; } = Task.FromResult<int?>(null);

    public bool IsRunning => _process?.IsRunning ?? false;

    internal static string SocketPathFor(string stateDirectory, string tag) => Path.Combine(stateDirectory, $"vfs-{tag}.sock");

    internal static string LogPathFor(string stateDirectory, string tag) => Path.Combine(stateDirectory, $"virtiofsd-{tag}.log");

    internal static string PidFilePathFor(string stateDirectory, string tag) => Path.Combine(stateDirectory, $"virtiofsd-{tag}.pid");

    /// <summary>
    /// The lock file the C virtiofsd keeps for a <c>--socket-path</c> (qemu's local state directory, run/virtiofsd/, named
    /// after the socket path with '/' turned into '.'). It never removes it, so whoever stops virtiofsd does.
    /// </summary>
    internal static string DaemonLockFileFor(string socketPath) => "/var/run/virtiofsd/" + socketPath.Replace('/', '.') + ".pid";

    /// <summary>
    /// virtiofsd's arguments, chosen for container filesystems as Kata chooses them:
    /// <list type="bullet">
    /// <item><c>sandbox=namespace</c>: virtiofsd pivot_roots into the directory inside its own mount, pid and net
    /// namespaces, so no path the guest sends (symlinks, "..") resolves outside the share on the host. Never
    /// <c>none</c>: root in the guest could then make virtiofsd create files anywhere on the host (GHSA-2gv2-cffp-j227).</item>
    /// <item><c>cache=</c> the share's mode, <c>auto</c> by default as in Kata: the guest caches for a second and
    /// revalidates on open, so host-side changes (a runtime writing into a container's rootfs) show up promptly.</item>
    /// <item><c>announce_submounts</c>: directories that are mount points on the host (Kata's layout bind-mounts each
    /// rootfs and volume into the shared directory) become submounts in the guest, with their own st_dev, so inode
    /// numbers of different host filesystems never collide in the guest (Kata's default too).</item>
    /// <item><c>xattr</c>: extended attributes pass through; containers need them for file capabilities
    /// (<c>security.capability</c>, e.g. ping's cap_net_raw in many images) and for overlay-style tools inside.</item>
    /// <item><c>--thread-pool-size=1</c>: Kata's setting. The C daemon's default (0) handles each request on the
    /// virtqueue thread, so one slow request (a large write, an fsync) stalls every other; one worker keeps the queue
    /// draining. Measured here under TCG (a container writing, reading and stat'ing 400 small files and 64 MiB through
    /// the share, two runs each): 0 and 1 were within the noise of each other (8.1/13.2 s against 8.8/13.8 s), so
    /// Kata's value stays.</item>
    /// </list>
    /// Commas and backslashes in the path are escaped for virtiofsd's option parser.
    /// </summary>
    internal static string[] Arguments(QemuSharedDirectory share, string socketPath) =>
    [
        $"--socket-path={socketPath}",
        "-o", $"source={share.HostPath.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal)}",
        "-o", "sandbox=namespace",
        "-o", $"cache={CacheMode(share.Cache)}",
        "-o", "announce_submounts",
        "-o", "xattr",
        "--thread-pool-size=1",
    ];

    internal static string CacheMode(QemuVirtiofsCache cache) => cache switch
    {
        QemuVirtiofsCache.None => "none",
        QemuVirtiofsCache.Always => "always",
        _ => "auto",
    };

    /// <summary>
    /// The shell between the launcher and virtiofsd: records its pid (the pid virtiofsd keeps, since it execs), sends
    /// everything after that to the log, for a read-only share makes the directory and the mounts below it read-only
    /// bind mounts (the shell runs in a mount namespace of its own then), and execs virtiofsd.
    /// Arguments: pid file, log, the read-only mount points (the share's directory first) up to "--", then the command.
    /// </summary>
    internal const string LaunchScript =
        "p=$1 l=$2; shift 2; echo $$ >\"$p\"; exec >>\"$l\" 2>&1 </dev/null; "
        + "if [ \"$1\" != -- ]; then mount --rbind \"$1\" \"$1\" || exit 125; fi; "
        + "while [ \"$1\" != -- ]; do mount -o remount,bind,ro \"$1\" || exit 125; shift; done; "
        + "shift; exec \"$@\"";

    /// <summary>The whole command: launcher words, the read-only namespace if asked, the shell, virtiofsd.</summary>
    internal static string[] CommandFor(string virtiofsdPath, string stateDirectory, QemuSharedDirectory share, bool detached, IReadOnlyList<string> readOnlyMounts)
    {
        var command = new List<string>();
        command.AddRange(detached ? ["setsid", "-f"] : ["setpriv", "--pdeathsig", "KILL", "--"]);
        if (share.ReadOnly)
        {
            // unshare execs (no --fork): the pid stays the one the launcher saw.
            command.AddRange(["unshare", "--mount", "--propagation", "slave", "--"]);
        }
        command.AddRange([
            "sh", "-c", LaunchScript, "virtiofsd", PidFilePathFor(stateDirectory, share.Tag), LogPathFor(stateDirectory, share.Tag), .. readOnlyMounts,
            "--", virtiofsdPath, .. Arguments(share, SocketPathFor(stateDirectory, share.Tag)),
        ]);
        return [.. command];
    }

    /// <summary>
    /// Starts virtiofsd for <paramref name="share"/> and returns once its socket exists (so qemu can connect).
    /// </summary>
    /// <exception cref="VmException">It could not be started, exited at once (its log tail in the message), or did not
    /// create its socket in time.</exception>
    public static async Task<Virtiofsd> StartAsync(string virtiofsdPath, string stateDirectory, QemuSharedDirectory share, bool detached, CancellationToken cancellationToken)
    {
        var daemon = new Virtiofsd(share, stateDirectory);
        if (daemon.SocketPath.Length > 107)
        {
            throw new VmException($"the socket path {daemon.SocketPath} of shared directory '{share.Tag}' is longer than a unix socket address allows (107 bytes): use a shorter state directory or tag");
        }
        foreach (string stale in new[] { daemon.SocketPath, daemon.PidFilePath, DaemonLockFileFor(daemon.SocketPath) })
        {
            // virtiofsd creates its lock directory (/run/virtiofsd, a tmpfs) at its first start after the host boots:
            // until then nothing in it can be stale, and File.Delete would throw for the missing directory.
            if (Directory.Exists(Path.GetDirectoryName(stale)))
            {
                File.Delete(stale);
            }
        }
        var readOnlyMounts = share.ReadOnly ? ReadOnlyMounts(share.HostPath) : [];
        string[] command = CommandFor(virtiofsdPath, stateDirectory, share, detached, readOnlyMounts);
        try
        {
            if (detached)
            {
                await daemon.LaunchDetachedAsync(command, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                daemon.LaunchChild(command);
            }
            await daemon.WaitForSocketAsync(cancellationToken).ConfigureAwait(false);
            return daemon;
        }
        catch
        {
            await daemon.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Finds the running virtiofsd of <paramref name="share"/> from its pid file (an attached VM's); null if it is gone.</summary>
    public static Virtiofsd? TryAttach(string stateDirectory, QemuSharedDirectory share)
    {
        var daemon = new Virtiofsd(share, stateDirectory);
        if (QemuProcess.ReadPidFile(daemon.PidFilePath) is not { } pid || QemuProcess.TryOpen(pid) is not { } process)
        {
            return null;
        }
        if (!IsVirtiofsdWithSocket(pid, daemon.SocketPath))
        {
            process.Dispose();
            return null;
        }
        daemon.ProcessId = pid;
        daemon._process = process;
        daemon.Exited = WaitAsync(process);
        return daemon;
    }

    /// <summary>
    /// Marks the exit as asked for, waits up to <paramref name="grace"/> for virtiofsd to exit by itself (it does once
    /// qemu disconnects), then SIGTERM, then SIGKILL; removes its socket, pid file and lock file. The log stays.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        if (_process is { } process)
        {
            await process.EndAsync(grace, TerminateGrace).ConfigureAwait(false);
            if (_child is not null)
            {
                // Reaped, so it does not linger as a zombie.
                await ((Task)Exited).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            process.Dispose();
        }
        DeleteFiles(SocketPath, PidFilePath);
    }

    /// <summary>From now on its exit is one this side asked for.</summary>
    public void MarkStopping() => _stopping = true;

    /// <summary>Lets go of the handle without stopping virtiofsd (a detached VM's, kept running).</summary>
    public void Close()
    {
        _stopping = true;
        _process?.Dispose();
    }

    /// <summary>The last <paramref name="lines"/> lines of the log.</summary>
    public string LogTail(int lines = 20) => LogTailOf(LogPath, lines);

    internal static string LogTailOf(string logPath, int lines = 20)
    {
        try
        {
            string text = File.ReadAllText(logPath).TrimEnd('\n');
            return text.Length == 0 ? "(virtiofsd wrote nothing)" : string.Join('\n', text.Split('\n').TakeLast(lines));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(no virtiofsd log: {e.Message})";
        }
    }

    /// <summary>
    /// Ends every virtiofsd whose pid file is in <paramref name="stateDirectory"/> and that still serves a socket there
    /// (a recycled pid does not count), and removes their sockets and lock files: what a killed or crashed detached VM
    /// leaves behind (virtiofsd exits by itself once qemu is gone, but not one qemu never connected to).
    /// </summary>
    public static async Task StopStrayAsync(string stateDirectory)
    {
        if (!Directory.Exists(stateDirectory))
        {
            return;
        }
        foreach (string pidFile in Directory.EnumerateFiles(stateDirectory, "virtiofsd-*.pid"))
        {
            string tag = Path.GetFileName(pidFile)["virtiofsd-".Length..^".pid".Length];
            string socket = SocketPathFor(stateDirectory, tag);
            if (QemuProcess.ReadPidFile(pidFile) is { } pid && QemuProcess.TryOpen(pid) is { } process)
            {
                using (process)
                {
                    if (IsVirtiofsdWithSocket(pid, socket))
                    {
                        await process.EndAsync(TimeSpan.FromSeconds(1), TerminateGrace).ConfigureAwait(false);
                    }
                }
            }
            DeleteFiles(socket, pidFile);
        }
        DeleteSockets(stateDirectory);
    }

    /// <summary>Removes the sockets in <paramref name="stateDirectory"/> and virtiofsd's lock files for them (those are outside it).</summary>
    public static void DeleteSockets(string stateDirectory)
    {
        if (Directory.Exists(stateDirectory))
        {
            foreach (string socket in Directory.EnumerateFileSystemEntries(stateDirectory, "vfs-*.sock"))
            {
                DeleteFiles(socket);
            }
        }
    }

    private static void DeleteFiles(string socketPath, params string[] others)
    {
        foreach (string file in others.Append(socketPath).Append(DaemonLockFileFor(socketPath)))
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsVirtiofsdWithSocket(int pid, string socketPath) =>
        QemuProcess.CommandLineContains(pid, $"--socket-path={socketPath}\0");

    private static async Task<int?> WaitAsync(QemuProcess process)
    {
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The directory and every mount below it, as the mount table names them (after resolving symlinks in the path),
    /// so all of them can be made read-only in virtiofsd's namespace.
    /// </summary>
    internal static IReadOnlyList<string> ReadOnlyMounts(string hostPath, string mountinfoPath = "/proc/self/mountinfo")
    {
        string root = ResolvePath(hostPath);
        string prefix = root == "/" ? "/" : root + "/";
        var below = File.ReadLines(mountinfoPath)
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => UnescapeMountPath(fields[4]))
            .Where(point => point.StartsWith(prefix, StringComparison.Ordinal) && point.Length > prefix.Length)
            .Distinct(StringComparer.Ordinal)
            .OrderBy(point => point.Length);
        return [root, .. below];
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo octal escapes.</summary>
    internal static string UnescapeMountPath(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }
        var bytes = new List<byte>();
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool IsOctal(string text, int at) =>
        at + 3 <= text.Length && text.Substring(at, 3).All(c => c is >= '0' and <= '7');

    /// <summary>The canonical path of an existing directory: what /proc/self/fd says of an O_PATH descriptor of it.</summary>
    private static string ResolvePath(string path)
    {
        int fd = Libc.Open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw new DirectoryNotFoundException(LinuxException.FromLastError($"open {path}").Message);
        }
        try
        {
            return new FileInfo($"/proc/self/fd/{fd.ToString(CultureInfo.InvariantCulture)}").LinkTarget ?? path;
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private async Task LaunchDetachedAsync(string[] command, CancellationToken cancellationToken)
    {
        BufferedCommandResult result;
        try
        {
            // setsid -f forks and returns at once; the shell it runs writes the pid file.
            result = await Cli.Wrap(command[0]).WithArguments(command[1..])
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmException($"cannot start virtiofsd for shared directory '{Share.Tag}' (through {command[0]}): {e.Message}", e);
        }
        if (result.ExitCode != 0)
        {
            throw new VmException($"cannot start virtiofsd for shared directory '{Share.Tag}': {command[0]} exited with code {result.ExitCode}: {result.StandardError.Trim()}");
        }
        var deadline = DateTime.UtcNow + StartTimeout;
        int? pid;
        while ((pid = QemuProcess.ReadPidFile(PidFilePath)) is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new VmException($"virtiofsd for shared directory '{Share.Tag}' did not start within {StartTimeout.TotalSeconds:0} s (no {PidFilePath})\n--- last virtiofsd log lines ---\n{LogTail()}");
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        ProcessId = pid.Value;
        _process = QemuProcess.TryOpen(pid.Value);
        Exited = _process is null ? Task.FromResult<int?>(null) : WaitAsync(_process);
    }

    private void LaunchChild(string[] command)
    {
        try
        {
            _child = OwnedChildProcess.Start(command, $"virtiofsd {Share.Tag}", CancellationToken.None);
        }
        catch (Exception e)
        {
            throw new VmException($"cannot start virtiofsd for shared directory '{Share.Tag}' (through setpriv): {e.Message}", e);
        }
        // setpriv, unshare and the shell exec: same pid.
        ProcessId = _child!.ProcessId;
        _process = QemuProcess.TryOpen(ProcessId);
        Exited = ExitCodeAsync(_child.Task);
    }

    private static async Task<int?> ExitCodeAsync(Task<CommandResult> child) => (await child.ConfigureAwait(false)).ExitCode;

    private async Task WaitForSocketAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!File.Exists(SocketPath))
        {
            if (_process is null || !_process.IsRunning)
            {
                int? code = _child is null ? null : await Exited.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
                throw new VmException($"virtiofsd for shared directory '{Share.Tag}' ({Share.HostPath}) exited at start{(code is { } c ? $" with code {c}" : "")}\n--- last virtiofsd log lines ---\n{LogTail()}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new VmException($"virtiofsd for shared directory '{Share.Tag}' did not create its socket {SocketPath} within {StartTimeout.TotalSeconds:0} s\n--- last virtiofsd log lines ---\n{LogTail()}");
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }
}
