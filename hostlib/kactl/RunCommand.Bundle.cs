using System.CommandLine;
using System.Security.Cryptography;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary><c>kactl run --bundle DIR</c>: an OCI bundle on an agent that already runs (<c>--addr</c>).</summary>
public sealed partial class RunCommand
{
    private async Task<int> RunBundleAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var signals = InterruptSignals.Register();
        string bundleDirectory = parseResult.GetValue(_bundle)!;
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
        StartupTimeline.Mark("bundle loaded");
        string id = parseResult.GetValue(_id) ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var options = new ContainerOptions { UseStreaming = !parseResult.GetValue(_noStreaming) };

        AgentClient client;
        try
        {
            // One short-lived run: ttrpc when the agent speaks it (ours and Kata's do) spares the HTTP/2 client's start,
            // a quarter of kactl's own CPU time for the run (docs/BENCHMARKS.md, "Whole-process run"); a gRPC-only agent
            // drops the ttrpc probe and gets gRPC.
            client = await _global.ConnectAsync(parseResult, signals.First, AgentProtocol.Detect).ConfigureAwait(false);
            StartupTimeline.Mark("connected");
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            return KactlCommands.Interrupted();
        }
        await using (client.ConfigureAwait(false))
        {
            // A refusal is an AgentStatusException naming CreateContainer: the guard maps it to exit 1.
            if (options.UseStreaming)
            {
                await StreamingSupport.IsAvailableAsync(client).ConfigureAwait(false);
                StartupTimeline.Mark("streaming probed");
            }
            var container = await Container.CreateAsync(client, id, spec, options).ConfigureAwait(false);
            StartupTimeline.Mark("created");
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
                        await container.StartAsync().ConfigureAwait(false);
                        StartupTimeline.Mark("started");
                    },
                    Kill = async () =>
                    {
                        removed = true;
                        await container.RemoveAsync().ConfigureAwait(false);
                    },
                };
                int status = await KactlCommands.RunSessionAsync(session).ConfigureAwait(false);
                StartupTimeline.Mark("exited");
                return status;
            }
            finally
            {
                if (!removed)
                {
                    try
                    {
                        await container.RemoveAsync().ConfigureAwait(false);
                        StartupTimeline.Mark("removed");
                    }
                    catch (AgentStatusException e)
                    {
                        await Console.Error.WriteLineAsync($"kactl: RemoveContainer of '{id}' failed: {e.StatusCode} ({(int)e.StatusCode}): {e.Detail}").ConfigureAwait(false);
                    }
                }
                await container.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
