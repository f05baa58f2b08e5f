using KataAgent.Helpers.Processes;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Linux.Interop;
using KataAgent.Agent.Processes;
using KataAgent.Linux.Terminals;

namespace KataAgent.Agent.DebugConsole;

/// <summary>
/// One debug shell: the first of /bin/bash and /bin/sh (busybox in the initrd) on a fresh pty, as
/// the leader of its own session with the pty as controlling terminal (job control, ^C), started
/// with posix_spawn and reaped by the agent's reaper. The agent keeps only the master.
/// </summary>
internal sealed class DebugShell : IDisposable
{
    public static readonly IReadOnlyList<string> Candidates = ["/bin/bash", "/bin/sh"];

    /// <summary>The shell's environment: nothing of the agent's, enough for a person at a terminal.</summary>
    public static readonly IReadOnlyList<string> Environment =
    [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=vt100",
        "HOME=/",
        "PS1=kata-agent# ",
    ];

    private readonly PseudoTerminal _pty;

    private DebugShell(PseudoTerminal pty, string path, int pid, Task<int> exited)
    {
        _pty = pty;
        Path = path;
        Pid = pid;
        Exited = exited;
    }

    public string Path { get; }

    public int Pid { get; }

    public int MasterFd => (int)_pty.Master.DangerousGetHandle();

    /// <summary>The shell's wait status.</summary>
    public Task<int> Exited { get; }

    /// <summary>The shell this guest has, or null when it has none.</summary>
    public static string? Find() => Candidates.FirstOrDefault(File.Exists);

    public static DebugShell Start(string shell, ProcessReaper reaper)
    {
        var pty = PseudoTerminal.Open();
        try
        {
            string name = System.IO.Path.GetFileName(shell);
            var (pid, exited) = reaper.SpawnWatched(() => ProcessSpawner.SpawnOnTerminal(shell, [name], Environment, pty.SlavePath));
            return new DebugShell(pty, shell, pid, exited);
        }
        catch
        {
            pty.Dispose();
            throw;
        }
    }

    /// <summary>Closing the master hangs the terminal up (SIGHUP to the session); a shell that ignores it is killed.</summary>
    public void Dispose()
    {
        _pty.Dispose();
        if (!Exited.IsCompleted)
        {
            Libc.Kill(Pid, Libc.SIGHUP);
            if (!Exited.Wait(TimeSpan.FromSeconds(2)))
            {
                Libc.Kill(Pid, Libc.SIGKILL);
            }
        }
    }
}
