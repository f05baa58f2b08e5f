using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl run --bundle DIR [--id ID] [--tty]</c>: runs an OCI bundle to completion — create,
/// attach stdio, start, wait, remove — and exits with the container's status.
/// </summary>
public sealed class RunCommand
{
    /// <summary>The command's name; it handles SIGINT/SIGTERM itself (see <see cref="InterruptSignals"/>).</summary>
    public const string Name = "run";

    private readonly GlobalOptions _global;

    private readonly Option<string> _bundle = new("--bundle", "-b")
    {
        Description = "The OCI bundle directory: config.json (as 'runc spec' / 'crun spec' write it) and the root filesystem",
        HelpName = "DIR",
        Required = true,
    };

    private readonly Option<string?> _id = new("--id")
    {
        Description = "Container id (default: 12 random hex digits)",
        HelpName = "ID",
    };

    private readonly Option<bool?> _tty = new("--tty", "-t")
    {
        Description = "Give the process a terminal (overrides process.terminal; --tty=false for none). The local terminal is put in raw mode when stdin is one",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private readonly Option<double> _stopTimeout;
    private readonly Option<bool> _noStreaming;
    private readonly NetworkOptions _network = new();

    public RunCommand(GlobalOptions global)
    {
        _global = global;
        _stopTimeout = StopTimeoutOption();
        _noStreaming = NoStreamingOption();
        Command = new Command(Name, "Run an OCI bundle to completion: create the container, attach stdio, start it, wait, remove it; exit with its status")
        {
            _bundle,
            _id,
            _tty,
            _stopTimeout,
            _noStreaming,
        };
        _network.AddTo(Command);
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    /// <summary><c>--stop-timeout</c>, shared with <c>exec</c>.</summary>
    internal static Option<double> StopTimeoutOption()
    {
        var option = new Option<double>("--stop-timeout")
        {
            Description = "After an interrupt (Ctrl-C, SIGTERM): seconds between SIGTERM to the process and killing it",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => 10,
        };
        option.Validators.Add(result =>
        {
            double value = result.GetValueOrDefault<double>();
            if (!(value >= 0) || double.IsInfinity(value))
            {
                result.AddError($"--stop-timeout must be 0 or a positive number of seconds, not {value.ToString(CultureInfo.InvariantCulture)}");
            }
        });
        return option;
    }

    /// <summary><c>--no-streaming</c>, shared with <c>exec</c>.</summary>
    internal static Option<bool> NoStreamingOption() => new("--no-streaming")
    {
        Description = "Carry stdio with Kata's unary calls (ReadStdout/WriteStdin) even when the agent has the kataagent.v1 streaming extension",
    };

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var signals = InterruptSignals.Register();
        if (_network.AnyGiven(parseResult))
        {
            // A bundle runs on an agent that is already up: there is no VM to wire a pod network into.
            throw new KactlException(ExitCodes.Usage, "--netns, --net and -p need a VM sandbox (kactl run without --addr/--bundle)");
        }
        string bundleDirectory = parseResult.GetRequiredValue(_bundle);
        Spec spec;
        try
        {
            spec = (await OciBundle.LoadAsync(bundleDirectory, cancellationToken).ConfigureAwait(false)).Spec;
        }
        catch (OciBundleException e)
        {
            throw new KactlException(ExitCodes.Usage, $"invalid bundle: {e.Message}", e);
        }
        if (spec.Process is null || spec.Process.Args.Count == 0)
        {
            throw new KactlException(ExitCodes.Usage, $"invalid bundle: {Path.Combine(Path.GetFullPath(bundleDirectory), OciBundle.ConfigFileName)}: $.process.args is missing or empty: nothing to run");
        }
        bool terminal = parseResult.GetValue(_tty) switch
        {
            { } given => given,
            // --tty alone parses as "present, no value".
            null when parseResult.GetResult(_tty) is not null => true,
            null => spec.Process.Terminal,
        };
        spec.Process.Terminal = terminal;
        if (terminal && LocalTerminal.Size() is { } size)
        {
            spec.Process.ConsoleSize = new Box { Height = size.Rows, Width = size.Columns };
        }
        string id = parseResult.GetValue(_id) ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var options = new ContainerOptions { UseStreaming = !parseResult.GetValue(_noStreaming) };

        AgentClient client;
        try
        {
            client = await _global.ConnectAsync(parseResult, signals.First).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            return KactlCommands.Interrupted();
        }
        await using (client.ConfigureAwait(false))
        {
            Container container;
            try
            {
                container = await Container.CreateAsync(client, id, spec, options).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw KactlCommands.RpcFailure("CreateContainer", e);
            }
            bool removed = false;
            try
            {
                if (signals.Interrupted)
                {
                    return KactlCommands.Interrupted();
                }
                var session = new ProcessSession
                {
                    Process = container.InitProcess,
                    Terminal = terminal,
                    Signals = signals,
                    StopTimeout = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout)),
                    Start = async () =>
                    {
                        try
                        {
                            await container.StartAsync().ConfigureAwait(false);
                        }
                        catch (RpcException e)
                        {
                            throw KactlCommands.RpcFailure("StartContainer", e);
                        }
                    },
                    Kill = async () =>
                    {
                        removed = true;
                        await container.RemoveAsync().ConfigureAwait(false);
                    },
                };
                int status;
                try
                {
                    status = await session.RunAsync().ConfigureAwait(false);
                }
                catch (RpcException e)
                {
                    throw KactlCommands.RpcFailure("WaitProcess", e);
                }
                await KactlCommands.WarnAsync(session.Warnings).ConfigureAwait(false);
                return status;
            }
            finally
            {
                if (!removed)
                {
                    try
                    {
                        await container.RemoveAsync().ConfigureAwait(false);
                    }
                    catch (RpcException e)
                    {
                        await Console.Error.WriteLineAsync($"kactl: RemoveContainer of '{id}' failed: {e.StatusCode} ({(int)e.StatusCode}): {e.Status.Detail}").ConfigureAwait(false);
                    }
                }
                await container.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
