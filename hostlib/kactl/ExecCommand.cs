using System.CommandLine;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl exec ID [--tty] [--exec-id ID] -- CMD…</c>: runs a process in a running container
/// with kactl's stdio attached and exits with its status. ID is a sandbox kactl booted
/// (<c>kactl run -d</c>; its container), or with an agent address a container on that agent.
/// </summary>
public sealed class ExecCommand
{
    /// <summary>The command's name; it handles SIGINT/SIGTERM itself (see <see cref="InterruptSignals"/>).</summary>
    public const string Name = "exec";

    /// <summary>PATH of an exec'd process unless <c>--env PATH=…</c> says otherwise (runc's and crun's default).</summary>
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly GlobalOptions _global;

    private readonly Argument<string> _container = new("ID")
    {
        Description = "A sandbox id (or unique prefix) as 'kactl ps' lists them; with --addr, a container id on that agent",
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

    private readonly Option<string?> _execId = new("--exec-id")
    {
        Description = "Exec id of the new process (default: exec- and 12 random hex digits)",
        HelpName = "ID",
    };

    private readonly Option<string[]> _env = EnvOption();
    private readonly Option<string> _cwd = CwdOption();

    private readonly Option<string?> _user = new("--user", "-u")
    {
        Description = "UID[:GID] to run as (default 0:0)",
        HelpName = "UID[:GID]",
    };

    private readonly Option<double> _stopTimeout = RunCommand.StopTimeoutOption();
    private readonly Option<bool> _noStreaming = RunCommand.NoStreamingOption();

    /// <summary>The exec commands' <c>--env KEY=VALUE</c> (repeatable), checked for its '='.</summary>
    internal static Option<string[]> EnvOption()
    {
        var option = new Option<string[]>("--env", "-e")
        {
            Description = $"Environment variable KEY=VALUE, repeatable (default {DefaultPath})",
            HelpName = "KEY=VALUE",
            AllowMultipleArgumentsPerToken = false,
        };
        option.Validators.Add(result =>
        {
            foreach (string entry in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (entry.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"--env takes KEY=VALUE, not '{entry}'");
                }
            }
        });
        return option;
    }

    /// <summary>The exec commands' <c>--cwd DIR</c> (absolute; default /).</summary>
    internal static Option<string> CwdOption()
    {
        var option = new Option<string>("--cwd", "-w")
        {
            Description = "Working directory inside the container",
            HelpName = "DIR",
            DefaultValueFactory = _ => "/",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } cwd && !cwd.StartsWith('/'))
            {
                result.AddError($"--cwd must be an absolute path, not '{cwd}'");
            }
        });
        return option;
    }

    public ExecCommand(GlobalOptions global)
    {
        _global = global;
        _user.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } user && ParseUser(user) is null)
            {
                result.AddError($"--user takes UID[:GID] (numbers), not '{user}'");
            }
        });
        Command = new Command(Name, "Run a process in a running container with kactl's stdio attached; exit with its status")
        {
            _container,
            _command,
            _tty,
            _execId,
            _env,
            _cwd,
            _user,
            _stopTimeout,
            _noStreaming,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var signals = InterruptSignals.Register();
        string containerId = parseResult.GetRequiredValue(_container);
        string execId = parseResult.GetValue(_execId) ?? Container.NewExecId();
        bool terminal = parseResult.GetValue(_tty);
        var (uid, gid) = ParseUser(parseResult.GetValue(_user) ?? "0")!.Value;
        string[] env = parseResult.GetValue(_env) ?? [];
        var process = new Process
        {
            Args = { parseResult.GetRequiredValue(_command) },
            Env = { env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)) ? env : [DefaultPath, .. env] },
            Cwd = parseResult.GetValue(_cwd) ?? "/",
            Terminal = terminal,
            User = new User { UID = uid, GID = gid },
        };
        if (terminal && LocalTerminal.Size() is { } size)
        {
            process.ConsoleSize = new Box { Height = size.Rows, Width = size.Columns };
        }
        var options = new ContainerOptions { UseStreaming = !parseResult.GetValue(_noStreaming) };

        AgentClient client;
        try
        {
            (client, containerId) = await ConnectAsync(parseResult, containerId, signals.First).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            return KactlCommands.Interrupted();
        }
        await using (client.ConfigureAwait(false))
        {
            await using var container = await Container.OpenAsync(client, containerId, options).ConfigureAwait(false);
            // A refusal is an AgentStatusException naming ExecProcess: the guard maps it to exit 1.
            var started = await container.ExecAsync(execId, process).ConfigureAwait(false);
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

    /// <summary>
    /// The agent and container to exec in. An explicit --addr means a container on that agent; else a
    /// sandbox of that id in the run directory; else $KATA_AGENT_ADDR's agent (so an exported
    /// address does not hide the sandboxes).
    /// </summary>
    private async Task<(AgentClient Client, string ContainerId)> ConnectAsync(ParseResult parseResult, string id, CancellationToken cancellationToken)
    {
        if (parseResult.GetResult(_global.Address) is null)
        {
            var runDirectory = Sandboxes.RunDirectory.FromEnvironment();
            Sandboxes.SandboxEntry? entry = null;
            try
            {
                entry = runDirectory.Find(id);
            }
            catch (KactlException) when (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(GlobalOptions.AddressVariable)))
            {
            }
            catch (KactlException e)
            {
                throw new KactlException(e.ExitCode, $"{e.Message}; for a container on an agent that already runs, pass --addr ADDR", e);
            }
            if (entry is not null)
            {
                var timeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
                var client = await Sandboxes.SandboxAgent.ConnectAsync(entry, timeout, _global.ResolveProtocol(parseResult), cancellationToken).ConfigureAwait(false);
                return (client, entry.Record!.ContainerId);
            }
        }
        return (await _global.ConnectAsync(parseResult, cancellationToken).ConfigureAwait(false), id);
    }

    private static (uint Uid, uint Gid)? ParseUser(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length > 2 || !uint.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint uid))
        {
            return null;
        }
        uint gid = 0;
        if (parts.Length == 2 && !uint.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out gid))
        {
            return null;
        }
        return (uid, gid);
    }
}
