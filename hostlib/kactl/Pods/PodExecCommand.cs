using System.CommandLine;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl.Pods;

/// <summary><c>kactl pod exec POD CONTAINER [-t] -- CMD…</c>: runs a process in one of a pod's containers with kactl's stdio attached, as <c>kactl exec</c> does.</summary>
public sealed class PodExecCommand
{
    /// <summary>The command's name; it handles SIGINT/SIGTERM itself (see <see cref="InterruptSignals"/>).</summary>
    public const string Name = "exec";

    private readonly GlobalOptions _global;

    private readonly Argument<string> _pod = new("POD")
    {
        Description = "The pod's id (or a unique prefix), as 'kactl pod ps' lists them",
    };

    private readonly Argument<string> _container = new("CONTAINER")
    {
        Description = "The container's name in the pod",
    };

    private readonly Argument<string[]> _command = new("CMD")
    {
        Description = "The program and its arguments (put them after --)",
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<bool> _tty = new("--tty", "-t")
    {
        Description = "Give the process a terminal; the local terminal is put in raw mode when stdin is one",
    };

    private readonly Option<string[]> _env = ExecCommand.EnvOption();
    private readonly Option<string> _cwd = ExecCommand.CwdOption();

    private readonly Option<double> _stopTimeout = RunCommand.StopTimeoutOption();

    public PodExecCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "Run a process in a container of a pod with kactl's stdio attached; exit with its status")
        {
            _pod,
            _container,
            _command,
            _tty,
            _env,
            _cwd,
            _stopTimeout,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var signals = InterruptSignals.Register();
        var entry = PodSandboxes.Find(parseResult.GetRequiredValue(_pod));
        string name = parseResult.GetRequiredValue(_container);
        bool terminal = parseResult.GetValue(_tty);
        string[] env = parseResult.GetValue(_env) ?? [];
        var process = new Process
        {
            Args = { parseResult.GetRequiredValue(_command) },
            Env = { env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)) ? env : [ExecCommand.DefaultPath, .. env] },
            Cwd = parseResult.GetValue(_cwd) ?? "/",
            Terminal = terminal,
            User = new User(),
        };
        if (terminal && LocalTerminal.Size() is { } size)
        {
            process.ConsoleSize = new Box { Height = size.Rows, Width = size.Columns };
        }
        var timeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
        await using var pod = await PodSandboxes.AttachAsync(entry, timeout, signals.First).ConfigureAwait(false);
        Container container;
        try
        {
            container = pod[name];
        }
        catch (KeyNotFoundException)
        {
            throw new KactlException(ExitCodes.Usage, $"pod '{entry.Id}' has no container '{name}' ({string.Join(", ", pod.Containers.Select(c => c.Name))})");
        }
        // A refusal is an AgentStatusException naming ExecProcess: the guard maps it to exit 1.
        var started = await container.ExecAsync(Container.NewExecId(), process).ConfigureAwait(false);
        var session = new ProcessSession
        {
            Process = started,
            Terminal = terminal,
            Signals = signals,
            StopTimeout = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout)),
            Kill = () => started.SignalAsync(9),
        };
        return await KactlCommands.RunSessionAsync(session).ConfigureAwait(false);
    }
}
