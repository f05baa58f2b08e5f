using KataAgent.Host.Containers;
using KataAgent.Protocols.Containerd.Types;
using KataAgent.Shim.Tasks.Stdio;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// One process of a task as containerd sees it: the task's init (<see cref="ExecId"/> empty) or an exec. Its state goes
/// Created → Running → Stopped (Paused while its container is frozen); it exits exactly once, and everyone waiting
/// (Wait may come before Start, many at once) gets that one exit.
/// </summary>
internal sealed class ShimProcess
{
    private readonly TaskCompletionSource<ProcessExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private Status _status = Status.Created;

    public ShimProcess(string taskId, string execId, StdioTarget stdin, StdioTarget stdout, StdioTarget stderr, bool terminal, string stdinUri, string stdoutUri, string stderrUri)
    {
        TaskId = taskId;
        ExecId = execId;
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
        Terminal = terminal;
        StdinUri = stdinUri;
        StdoutUri = stdoutUri;
        StderrUri = stderrUri;
    }

    /// <summary>The task (container) id.</summary>
    public string TaskId { get; }

    /// <summary>containerd's exec id; empty for the init process.</summary>
    public string ExecId { get; }

    /// <summary>True for the task's init process.</summary>
    public bool IsInit => ExecId.Length == 0;

    /// <summary>The id the process's exit event carries: the container id for init, else the exec id.</summary>
    public string EventId => IsInit ? TaskId : ExecId;

    public StdioTarget Stdin { get; }

    public StdioTarget Stdout { get; }

    public StdioTarget Stderr { get; }

    /// <summary>The paths as containerd gave them (State answers with these).</summary>
    public string StdinUri { get; }

    public string StdoutUri { get; }

    public string StderrUri { get; }

    public bool Terminal { get; }

    /// <summary>An exec's process spec, kept from Exec until Start.</summary>
    public KataAgent.Protocols.Agent.Process? ExecSpec { get; init; }

    /// <summary>The process in the agent once it exists (null for the sandbox's init, which is the VM).</summary>
    public ContainerProcess? Agent { get; set; }

    /// <summary>Its stdio copies, once started.</summary>
    public ProcessIo? Io { get; set; }

    /// <summary>CloseIO came before Start had attached the stdio: stdin is closed (after what the FIFO holds) once it is.</summary>
    public bool CloseStdinOnStart { get; set; }

    /// <summary>What the exit of the process is watched by, once it runs.</summary>
    public Task? Monitor { get; set; }

    /// <summary>The pid containerd is told (Kata's answer: the VM's qemu, the only host process there is).</summary>
    public uint Pid { get; set; }

    /// <summary>The current state.</summary>
    public Status Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>The exit, once there is one.</summary>
    public Task<ProcessExit> Exited => _exited.Task;

    /// <summary>The exit if the process has one, else null.</summary>
    public ProcessExit? ExitIfAny => _exited.Task.IsCompleted ? _exited.Task.Result : null;

    /// <summary>Created → Running. False when the process is not Created (already started, or exited before its start).</summary>
    public bool TryMarkRunning()
    {
        lock (_gate)
        {
            if (_status != Status.Created)
            {
                return false;
            }
            _status = Status.Running;
            return true;
        }
    }

    /// <summary>Running ↔ Paused; false when the process is not in <paramref name="from"/>.</summary>
    public bool TryMove(Status from, Status to)
    {
        lock (_gate)
        {
            if (_status != from)
            {
                return false;
            }
            _status = to;
            return true;
        }
    }

    /// <summary>Records the exit; true for the one caller that set it (the one that publishes the exit event).</summary>
    public bool TrySetExited(uint status, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_status == Status.Stopped)
            {
                return false;
            }
            _status = Status.Stopped;
        }
        return _exited.TrySetResult(new ProcessExit(status, at));
    }
}
