using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Containerd.Types;
using KataAgent.Shim.Tasks.Stdio;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>The type URL containerd gives an exec's process spec (JSON).</summary>
    public const string ProcessSpecTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process";

    /// <summary>Exec: records an exec (its OCI process spec, JSON) to be started by Start; publishes TaskExecAdded.</summary>
    private Task<Empty> ExecAsync(ExecProcessRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        if (request.ExecId.Length == 0 || request.ExecId.Length > 256 || request.ExecId.Contains('\0') || request.ExecId.Contains('/'))
        {
            throw TaskException.InvalidArgument("exec_id", $"'{request.ExecId}' is not an exec id (1 to 256 characters, no '/')");
        }
        if (task.Role == PodRole.Sandbox)
        {
            throw TaskException.FailedPrecondition($"task {task.Id} is the pod's sandbox (its VM): exec into one of its containers");
        }
        if (task.Init.Status is not (Status.Running or Status.Paused))
        {
            throw TaskException.FailedPrecondition($"task {task.Id} is {task.Init.Status.ToString().ToLowerInvariant()}: an exec needs it running");
        }
        if (request.Spec is null || request.Spec.Value.IsEmpty)
        {
            throw TaskException.InvalidArgument("spec", "is empty: an exec needs its OCI process");
        }
        if (TypeName(request.Spec.TypeUrl) != ProcessSpecTypeUrl)
        {
            throw TaskException.InvalidArgument("spec", $"type '{request.Spec.TypeUrl}' is not {ProcessSpecTypeUrl}");
        }
        var spec = OciBundle.ParseProcess(request.Spec.Value.Span);
        spec.Terminal = request.Terminal;
        var stdin = StdioTarget.Parse(request.Stdin, "stdin");
        var stdout = StdioTarget.Parse(request.Stdout, "stdout");
        var stderr = StdioTarget.Parse(request.Stderr, "stderr");
        foreach (var (target, field) in new[] { (stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr") })
        {
            if (target.Kind == StdioKind.Fifo && !File.Exists(target.Path))
            {
                throw TaskException.InvalidArgument(field, $"FIFO {target.Path} does not exist");
            }
        }
        var process = new ShimProcess(task.Id, request.ExecId, stdin, stdout, stderr, request.Terminal, request.Stdin, request.Stdout, request.Stderr)
        {
            ExecSpec = spec,
            Pid = task.Init.Pid,
        };
        task.AddExec(process);
        _events.Publish(new TaskExecAdded { ContainerId = task.Id, ExecId = request.ExecId });
        return Task.FromResult(new Empty());
    }

    /// <summary>ResizePty: the terminal of a running process (TtyWinResize).</summary>
    private async Task<Empty> ResizePtyAsync(ResizePtyRequest request, CancellationToken cancellationToken)
    {
        var process = Find(request.Id).Process(request.ExecId);
        if (!process.Terminal)
        {
            throw TaskException.FailedPrecondition($"{Describe(process)} has no terminal");
        }
        if (process.Agent is not { } agent || process.Status is not (Status.Running or Status.Paused))
        {
            throw TaskException.FailedPrecondition($"{Describe(process)} is {process.Status.ToString().ToLowerInvariant()}: only a running process's terminal can be resized");
        }
        await agent.ResizeAsync(request.Height, request.Width, cancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    /// <summary>CloseIO: what the client wrote to stdin goes in, then the process's stdin is closed (end of input).</summary>
    private async Task<Empty> CloseIOAsync(CloseIORequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var process = task.Process(request.ExecId);
        if (!request.Stdin)
        {
            return new Empty();
        }
        // Start holds the gate until the stdio is attached: a client whose short input is copied while Start is still
        // on its way (ctr's exec) sends CloseIO in that window, and must not find the stdio missing.
        ProcessIo? io;
        await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (process.Status == Status.Stopped)
            {
                return new Empty();
            }
            io = process.Io;
            if (io is null)
            {
                process.CloseStdinOnStart = true;
                return new Empty();
            }
        }
        finally
        {
            task.Gate.Release();
        }
        await io.CloseStdinAsync(cancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    /// <summary>An Any's type name: containerd 1.6 sends it bare, 1.7's typeurl may add <c>type.googleapis.com/</c>.</summary>
    internal static string TypeName(string typeUrl) =>
        typeUrl.StartsWith("type.googleapis.com/", StringComparison.Ordinal) ? typeUrl["type.googleapis.com/".Length..] : typeUrl;
}
