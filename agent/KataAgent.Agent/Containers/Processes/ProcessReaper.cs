using System.Runtime.InteropServices;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// The one place that reaps children. The agent is PID 1 in the guest (and a child subreaper
/// when stand-alone), so orphans from every container land here. On SIGCHLD (and on a slow timer
/// for a lost signal) it collects every exited child with waitid(P_ALL) and hands the status of
/// the processes the agent started to their waiters; orphans are simply reaped. Nothing else may
/// call wait*, or it would steal statuses.
/// </summary>
public sealed unsafe class ProcessReaper : IDisposable
{
    private readonly ILogger<ProcessReaper> _logger;
    private readonly object _gate = new();
    private readonly Dictionary<int, TaskCompletionSource<int>> _watched = [];
    private readonly SemaphoreSlim _childExited = new(0, int.MaxValue);
    private readonly PosixSignalRegistration _sigchld;
    private readonly Thread _thread;
    private volatile bool _disposed;

    public ProcessReaper(ILogger<ProcessReaper> logger)
    {
        _logger = logger;
        if (Environment.ProcessId != 1 && Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        {
            _logger.LogWarning("{Error}: orphaned container processes will not be reaped by the agent", LinuxException.FromLastError("prctl(PR_SET_CHILD_SUBREAPER)").Message);
        }
        _sigchld = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, context =>
        {
            context.Cancel = true;
            _childExited.Release();
        });
        if (Environment.ProcessId == 1)
        {
            // As PID 1, .NET's native signal loop reaps every child itself (waitpid(-1)) unless a
            // SIGCHLD callback is registered — which would steal every status from this reaper.
            // Registering ours turns that off; the reaper then sees every exit, as stand-alone.
            s_instance = this;
            SystemNative.RegisterForSigChld(&OnSigChld);
        }
        _thread = new Thread(Loop) { IsBackground = true, Name = "reaper" };
        _thread.Start();
    }

    /// <summary>
    /// Starts a process with <paramref name="spawn"/> and watches it, atomically with respect to
    /// reaping, so an exit that comes before the watch is registered is not lost.
    /// </summary>
    public (int Pid, Task<int> Exit) SpawnWatched(Func<int> spawn)
    {
        lock (_gate)
        {
            int pid = spawn();
            var exit = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _watched[pid] = exit;
            return (pid, exit.Task);
        }
    }

    private static ProcessReaper? s_instance;

    [UnmanagedCallersOnly]
    private static int OnSigChld(int reapAll, int configureConsole)
    {
        s_instance?._childExited.Release();
        return 0;
    }

    public void Dispose()
    {
        _disposed = true;
        _childExited.Release();
        _sigchld.Dispose();
    }

    private void Loop()
    {
        while (!_disposed)
        {
            _childExited.Wait(TimeSpan.FromSeconds(1));
            ReapAll();
        }
    }

    private void ReapAll()
    {
        while (true)
        {
            Libc.SigInfo info = default;
            lock (_gate)
            {
                if (Libc.WaitId(Libc.P_ALL, 0, &info, Libc.WEXITED | Libc.WNOHANG) != 0 || info.Pid == 0)
                {
                    return;
                }
                int status = info.Code == Libc.CLD_EXITED ? info.Status : 128 + info.Status;
                // Orphans that reached the agent (a container's processes whose parent went) are simply reaped.
                if (_watched.Remove(info.Pid, out var exit))
                {
                    exit.TrySetResult(status);
                }
            }
        }
    }
}
