using KataAgent.Agent.Config;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using KataAgent.Agent.IO;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.DebugConsole;

/// <summary>
/// The guest's debug console (<c>agent.debug_console</c>), in Kata's two forms. On a virtio-serial
/// port (<c>agent.debug_console.0</c>, the default) one shell at a time: its pty master is pumped
/// to and from the port, the shell is started again when it exits, and it keeps running while the
/// host end is away (the port reads EOF then; the agent reopens it when the host is back). On a
/// vsock port (<c>agent.debug_console_vport=N</c>; unix:// on hosts without vsock) a new shell per
/// connection, ended when the connection closes. Each pump runs on its own thread, in poll, woken
/// by one eventfd at stop. Every thread holds a reference on that eventfd while it runs, so stop closes
/// it only once the last thread (one that outlived the join, too) has left.
/// </summary>
internal sealed class DebugConsoleService(AgentConfig config, ProcessReaper reaper, ILogger<DebugConsoleService> logger) : IHostedService
{
    private static readonly TimeSpan PortRetryInterval = TimeSpan.FromMilliseconds(100);
    /// <summary>A shell that dies sooner than this is not restarted at once: no busy loop over a broken shell.</summary>
    private static readonly TimeSpan MinimumShellLife = TimeSpan.FromSeconds(1);

    private readonly List<Thread> _threads = [];
    private SafeFileDescriptor? _wake;
    private int _stopped;
    private StreamListener? _listener;

    /// <summary>The eventfd's number, for the console's threads, whose reference keeps it open.</summary>
    private int WakeFd => (int)_wake!.DangerousGetHandle();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (config.DebugConsoleAddress is not { } address)
        {
            return Task.CompletedTask;
        }
        string? shell = DebugShell.Find();
        if (shell is null)
        {
            logger.LogError("debug console: no shell in this guest (looked for {Candidates})", string.Join(", ", DebugShell.Candidates));
            return Task.CompletedTask;
        }
        _wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        if (address.Kind == AgentAddressKind.Serial)
        {
            StartThread("debug-console", () => ServePort(address, shell));
        }
        else
        {
            try
            {
                _listener = StreamListener.Listen(address);
            }
            catch (Exception e) when (e is LinuxException or ArgumentException or IOException)
            {
                logger.LogError("debug console: cannot listen on {Address}: {Error}", address, e.Message);
                return Task.CompletedTask;
            }
            StartThread("debug-console", () => AcceptConnections(_listener, shell));
        }
        logger.LogInformation("debug console: {Shell} on {Address}", shell, address);
        return Task.CompletedTask;
    }

    public unsafe Task StopAsync(CancellationToken cancellationToken)
    {
        if (_wake is null || Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return Task.CompletedTask;
        }
        // Only this call disposes the eventfd, and it has not yet: the number is still ours to write to.
        ulong one = 1;
        Libc.Write(WakeFd, (byte*)&one, sizeof(ulong));
        _listener?.Dispose();
        List<Thread> threads;
        lock (_threads)
        {
            threads = [.. _threads];
        }
        foreach (var thread in threads)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }
        _wake.Dispose();
        return Task.CompletedTask;
    }

    private void ServePort(AgentAddress address, string shellPath)
    {
        DebugShell? shell = null;
        string? lastProblem = null;
        try
        {
            while (!Stopped(TimeSpan.Zero))
            {
                int port = SerialPortDevice.TryOpen(address, requireHost: true, out string? problem);
                if (port < 0)
                {
                    if (problem != lastProblem)
                    {
                        lastProblem = problem;
                        logger.LogDebug("debug console: {Problem}; retrying", problem);
                    }
                    if (Stopped(PortRetryInterval))
                    {
                        return;
                    }
                    continue;
                }
                lastProblem = null;
                try
                {
                    while (true)
                    {
                        shell ??= StartShell(shellPath);
                        if (shell is null)
                        {
                            return;
                        }
                        var end = FdPump.Run(port, shell.MasterFd, WakeFd);
                        if (end == FdPumpEnd.Stopped)
                        {
                            return;
                        }
                        if (end == FdPumpEnd.FirstClosed)
                        {
                            logger.LogDebug("debug console: the host end of {Address} went away; the shell keeps running", address);
                            break;
                        }
                        logger.LogInformation("debug console: shell {Pid} exited; starting a new one", shell.Pid);
                        shell.Dispose();
                        shell = null;
                    }
                }
                finally
                {
                    Libc.Close(port);
                }
                if (Stopped(PortRetryInterval))
                {
                    return;
                }
            }
        }
        catch (Exception e)
        {
            logger.LogError("debug console on {Address} stopped: {Error}", address, e.Message);
        }
        finally
        {
            shell?.Dispose();
        }
    }

    private void AcceptConnections(StreamListener listener, string shellPath)
    {
        while (true)
        {
            int connection;
            try
            {
                connection = listener.Accept();
            }
            catch (Exception e) when (e is LinuxException or ObjectDisposedException)
            {
                if (!Stopped(TimeSpan.Zero))
                {
                    logger.LogError("debug console: accept on {Address} failed: {Error}", listener.Address, e.Message);
                }
                return;
            }
            if (connection < 0)
            {
                return;
            }
            logger.LogInformation("debug console: connection on {Address}", listener.Address);
            if (!StartThread("debug-console-session", () => ServeConnection(connection, shellPath)))
            {
                // Stopped meanwhile: no session for it.
                Libc.Close(connection);
                return;
            }
        }
    }

    private void ServeConnection(int connection, string shellPath)
    {
        try
        {
            using var shell = StartShell(shellPath, throttle: false);
            if (shell is not null)
            {
                FdPump.Run(connection, shell.MasterFd, WakeFd);
            }
        }
        catch (Exception e)
        {
            logger.LogError("debug console session ended: {Error}", e.Message);
        }
        finally
        {
            Libc.Close(connection);
        }
    }

    private DateTime _lastStart = DateTime.MinValue;

    /// <summary>A new shell; null when stopped while waiting to retry a failed start.</summary>
    private DebugShell? StartShell(string shellPath, bool throttle = true)
    {
        while (true)
        {
            if (throttle)
            {
                var sinceLast = DateTime.UtcNow - _lastStart;
                if (sinceLast < MinimumShellLife && Stopped(MinimumShellLife - sinceLast))
                {
                    return null;
                }
                _lastStart = DateTime.UtcNow;
            }
            try
            {
                var shell = DebugShell.Start(shellPath, reaper);
                logger.LogDebug("debug console: started {Shell} (pid {Pid})", shellPath, shell.Pid);
                return shell;
            }
            catch (LinuxException e)
            {
                logger.LogError("debug console: cannot start {Shell}: {Error}", shellPath, e.Message);
                if (!throttle || Stopped(MinimumShellLife))
                {
                    return null;
                }
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the stop signal; true once stopping.</summary>
    private unsafe bool Stopped(TimeSpan timeout)
    {
        var poll = new Libc.PollFd { Fd = WakeFd, Events = Libc.POLLIN };
        return Libc.Poll(&poll, 1, (int)timeout.TotalMilliseconds) > 0;
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own holding a reference on the eventfd; false once stopped.</summary>
    private bool StartThread(string name, Action body)
    {
        var wake = _wake!;
        bool referenced = false;
        try
        {
            wake.DangerousAddRef(ref referenced);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            finally
            {
                wake.DangerousRelease();
            }
        })
        { IsBackground = true, Name = name };
        lock (_threads)
        {
            _threads.RemoveAll(t => !t.IsAlive);
            _threads.Add(thread);
        }
        thread.Start();
        return true;
    }
}
