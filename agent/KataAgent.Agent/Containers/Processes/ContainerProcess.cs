using KataAgent.Helpers.IO;
using KataAgent.Helpers.Processes;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Agent.Errors;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Linux.Interop;
using KataAgent.Agent.IO;
using KataAgent.Linux.IO;
using KataAgent.Agent.Processes;
using KataAgent.Linux.Namespaces;
using KataAgent.Linux.Terminals;

namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// One process of a container (its init or an exec), from spawn to exit: the init helper, spawned
/// in the container's namespaces, the sync protocol (see <see cref="ContainerInit"/>), stdio with
/// bounded buffers that outlive the process, signals through a pidfd, and the exit status from the
/// reaper. A setup step that fails is INTERNAL with the helper's words; stdin or a terminal the
/// process lacks is FAILED_PRECONDITION.
/// </summary>
public sealed class ContainerProcess : IAsyncDisposable
{
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(60);
    private const int OutputPipeSize = 1024 * 1024;
    private readonly FileDescriptorStream _sync;
    private readonly FileDescriptorStream? _stdin;
    private FileDescriptorStream? _terminal;
    private readonly List<OutputPump.Registration> _pumps = [];
    private readonly object _stdinGate = new();
    private bool _stdinClosed;
    /// <summary>Null until the pid is known, and when pidfd_open failed (the process had already gone).</summary>
    private SafeFileDescriptor? _pidfd;

    private ContainerProcess(string execId, FileDescriptorStream sync, FileDescriptorStream? stdin)
    {
        ExecId = execId;
        _sync = sync;
        _stdin = stdin;
    }

    public string ExecId { get; }

    /// <summary>The process's pid in the agent's PID namespace.</summary>
    public int Pid { get; private set; }

    public OutputBuffer Stdout { get; } = new();

    public OutputBuffer Stderr { get; } = new();

    /// <summary>Exit status: the exit code, or 128 + signal.</summary>
    public Task<int> Exited { get; private set; } = Task.FromResult(-1);

    public bool HasExited => Exited.IsCompleted;

    /// <summary>
    /// Spawns the init helper, already in the container's namespaces (<see cref="SpawnNamespaces"/>), and runs it up to
    /// the point where it waits for "start" (create) or through exec (exec). <paramref name="join"/> places the
    /// workload's pid (e.g. in the container's cgroup) before it does anything.
    /// </summary>
    public static async Task<ContainerProcess> SpawnAsync(string execId, InitConfig config, (ushort Rows, ushort Columns) consoleSize, ProcessReaper reaper, Action<int> join, CancellationToken cancellationToken)
    {
        var childFds = new List<int>();
        int[] stdio = new int[3];
        FileDescriptorStream? stdin = null;
        FileDescriptorStream? terminal = null;
        SafeFileDescriptor? stdout = null;
        SafeFileDescriptor? stderr = null;
        ContainerProcess? spawned = null;
        try
        {
            if (config.Terminal)
            {
                // The helper makes the terminal inside the container; until then stdio is /dev/null.
                config.ConsoleRows = consoleSize.Rows;
                config.ConsoleColumns = consoleSize.Columns;
                int devNull = Libc.Check(Libc.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC), "open /dev/null");
                childFds.Add(devNull);
                stdio = [devNull, devNull, devNull];
            }
            else
            {
                var (stdinRead, stdinWrite) = Libc.Pipe();
                var (stdoutRead, stdoutWrite) = Libc.Pipe();
                var (stderrRead, stderrWrite) = Libc.Pipe();
                childFds.AddRange([stdinRead, stdoutWrite, stderrWrite]);
                stdio = [stdinRead, stdoutWrite, stderrWrite];
                stdin = new FileDescriptorStream(stdinWrite, ownsFd: true);
                stdout = new SafeFileDescriptor(stdoutRead);
                stderr = new SafeFileDescriptor(stderrRead);
                // A process that writes in large blocks fills the default 64 KiB pipe in one write and then waits for
                // the pump once per 64 KiB; a larger pipe lets a block through in one go (docs/BENCHMARKS.md, issue 16).
                // Its pages are only taken while it holds data. Refused (a per-user pipe limit), the default serves.
                Libc.Fcntl(stdoutRead, Libc.F_SETPIPE_SZ, OutputPipeSize);
                Libc.Fcntl(stderrRead, Libc.F_SETPIPE_SZ, OutputPipeSize);
            }

            var (agentEnd, helperEnd) = SyncSocketPair();
            var sync = new FileDescriptorStream(agentEnd, ownsFd: true);
            childFds.Add(helperEnd);
            int configFd = WriteConfig(config);
            childFds.Add(configFd);

            var process = spawned = new ContainerProcess(execId, sync, stdin);
            if (!config.Terminal)
            {
                var (stdoutRead, stderrRead) = (stdout!, stderr!);
                stdout = stderr = null;
                process._pumps.Add(OutputPump.Shared.Start(stdoutRead, process.Stdout));
                process._pumps.Add(OutputPump.Shared.Start(stderrRead, process.Stderr));
            }

            int containerPidfd = -1;
            if (config.Mode == "exec")
            {
                containerPidfd = Libc.PidfdOpen(config.JoinPid);
                if (containerPidfd < 0)
                {
                    throw AgentException.Internal(LinuxException.FromLastError($"pidfd_open of the container's init (pid {config.JoinPid})").Message);
                }
                childFds.Add(containerPidfd);
            }
            int[] helperFds = containerPidfd >= 0
                ? [stdio[0], stdio[1], stdio[2], helperEnd, configFd, containerPidfd]
                : [stdio[0], stdio[1], stdio[2], helperEnd, configFd];
            int pid;
            try
            {
                (pid, process.Exited) = await NamespaceThread.RunAsync("init-spawn", () => SpawnNamespaces.Enter(config, containerPidfd), () =>
                    reaper.SpawnWatched(() => ProcessSpawner.Spawn(InitHelper.ExecutablePath, [InitHelper.FileName, ContainerInit.ModeName], [], helperFds))).ConfigureAwait(false);
            }
            catch (LinuxException e)
            {
                throw AgentException.Internal(e.Message);
            }
            foreach (int fd in childFds)
            {
                Libc.Close(fd);
            }
            childFds.Clear();

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(SetupTimeout);
            process.Pid = pid;
            int pidfd = Libc.PidfdOpen(pid);
            process._pidfd = pidfd >= 0 ? new SafeFileDescriptor(pidfd) : null;
            join(pid);
            await process.SendOrReadFailureAsync("joined", timeout.Token).ConfigureAwait(false);
            if (config.Terminal)
            {
                terminal = await process.ReceiveConsoleAsync(timeout.Token).ConfigureAwait(false);
                process._terminal = terminal;
                process._pumps.Add(OutputPump.Shared.Start(OutputPump.Duplicate(terminal.Fd), process.Stdout));
                process.Stderr.Complete();
            }
            if (config.Mode == "create")
            {
                string? ready = await process.ReceiveAsync(timeout.Token).ConfigureAwait(false);
                if (ready != "ready")
                {
                    throw AgentException.Internal(ready ?? "the container's init exited during setup");
                }
            }
            else
            {
                await process.StartAsync(timeout.Token).ConfigureAwait(false);
            }
            return process;
        }
        catch
        {
            foreach (int fd in childFds)
            {
                Libc.Close(fd);
            }
            stdin?.Dispose();
            terminal?.Dispose();
            stdout?.Dispose();
            stderr?.Dispose();
            // A helper still waiting for the agent reads end of stream and exits.
            spawned?._sync.Dispose();
            throw;
        }
    }

    /// <summary>Lets the process exec its workload; returns once the exec happened (the sync socket closed).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await SendAsync("start").ConfigureAwait(false);
        string? reply = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
        if (reply is not null)
        {
            throw AgentException.Internal(reply);
        }
    }

    /// <summary>Sends a signal through the pidfd (immune to pid reuse); false when the process has already exited.</summary>
    public bool Signal(int signal)
    {
        if (HasExited)
        {
            return false;
        }
        int errno = SignalThroughPidfd(signal) ?? (Libc.Kill(Pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError());
        if (errno != 0)
        {
            return errno == Errno.ESRCH ? false : throw new LinuxException($"signal {signal} to pid {Pid}", errno);
        }
        return true;
    }

    public async Task<int> WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Stream stream = (Stream?)_terminal ?? _stdin ?? throw AgentException.FailedPrecondition(null, "the process has no stdin");
        lock (_stdinGate)
        {
            if (_stdinClosed)
            {
                throw AgentException.FailedPrecondition(null, "stdin is closed");
            }
        }
        await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        return data.Length;
    }

    public void CloseStdin()
    {
        lock (_stdinGate)
        {
            if (_stdinClosed)
            {
                return;
            }
            _stdinClosed = true;
        }
        if (_terminal is not null)
        {
            // A terminal has no half-close: send EOF (^D) the way a user would.
            _terminal.Write([4]);
        }
        else
        {
            _stdin?.Dispose();
        }
    }

    public void Resize(uint rows, uint columns)
    {
        if (_terminal is null)
        {
            throw AgentException.FailedPrecondition(null, "the process has no terminal");
        }
        PseudoTerminal.SetWindowSize(_terminal.Fd, (ushort)rows, (ushort)columns);
    }

    public async ValueTask DisposeAsync()
    {
        _sync.Dispose();
        _stdin?.Dispose();
        _terminal?.Dispose();
        try
        {
            // What the process wrote before it exited is in its pipe: give the pump a moment to take it in. A pipe a
            // daemonised descendant still holds open never ends by itself, and is stopped here.
            await Task.WhenAll(_pumps.Select(pump => pump.Completion)).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        foreach (var pump in _pumps)
        {
            pump.Stop();
        }
        _pidfd?.Dispose();
    }

    /// <summary>pidfd_send_signal's errno (0: sent); null without a pidfd (none opened, or disposed), where the caller falls back to kill(2).</summary>
    private int? SignalThroughPidfd(int signal)
    {
        var pidfd = _pidfd;
        if (pidfd is null)
        {
            return null;
        }
        // A reference keeps a concurrent dispose from closing the number (and letting it be reused) under the call.
        bool referenced = false;
        try
        {
            pidfd.DangerousAddRef(ref referenced);
            // errno is read before the release, whose close(2) (when a dispose came meanwhile) would overwrite it.
            return Libc.Syscall(Libc.SYS_pidfd_send_signal, (int)pidfd.DangerousGetHandle(), signal, 0, 0, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (referenced)
            {
                pidfd.DangerousRelease();
            }
        }
    }

    /// <summary>Receives the "console" message and the pty master it carries.</summary>
    private async Task<FileDescriptorStream> ReceiveConsoleAsync(CancellationToken cancellationToken)
    {
        var (message, fd) = await Task.Run(() =>
        {
            var buffer = new byte[4096];
            int n = FdPassing.Receive(_sync.Fd, buffer, (int)SetupTimeout.TotalMilliseconds, out int received);
            return (Encoding.UTF8.GetString(buffer, 0, n), received);
        }, cancellationToken).ConfigureAwait(false);
        if (message != "console" || fd < 0)
        {
            if (fd >= 0)
            {
                Libc.Close(fd);
            }
            throw AgentException.Internal(message.StartsWith("error ", StringComparison.Ordinal) ? message[6..] : message.Length == 0 ? "the init helper exited before making the terminal" : $"expected the terminal, got '{message}'");
        }
        return new FileDescriptorStream(fd, ownsFd: true);
    }

    /// <summary>
    /// Sends <paramref name="message"/>; when the helper is already gone (it failed and closed its end), throws with
    /// what it said before it went.
    /// </summary>
    private async Task SendOrReadFailureAsync(string message, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(message).ConfigureAwait(false);
        }
        catch (IOException)
        {
            string? said = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
            throw AgentException.Internal(said ?? $"the init helper (pid {Pid}) exited before starting the process");
        }
    }

    private async Task SendAsync(string message) => await _sync.WriteAsync(Encoding.UTF8.GetBytes(message)).ConfigureAwait(false);

    private async Task<string?> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        int n;
        try
        {
            n = await _sync.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        if (n == 0)
        {
            return null;
        }
        string message = Encoding.UTF8.GetString(buffer, 0, n);
        return message.StartsWith("error ", StringComparison.Ordinal) ? throw AgentException.Internal(message[6..]) : message;
    }

    private static unsafe (int AgentEnd, int HelperEnd) SyncSocketPair()
    {
        int* pair = stackalloc int[2];
        Libc.Check(Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0, pair), "socketpair for the init helper");
        return (pair[0], pair[1]);
    }

    private static unsafe int WriteConfig(InitConfig config)
    {
        byte[] json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(config, InitConfigJsonContext.Default.InitConfig);
        int fd = Libc.Check(Libc.MemfdCreate("kata-agent-init", Libc.MFD_CLOEXEC), "memfd_create");
        fixed (byte* p = json)
        {
            int written = 0;
            while (written < json.Length)
            {
                nint n = Libc.Write(fd, p + written, (nuint)(json.Length - written));
                if (n < 0)
                {
                    Libc.Close(fd);
                    throw LinuxException.FromLastError("write init config");
                }
                written += (int)n;
            }
        }
        return fd;
    }
}
