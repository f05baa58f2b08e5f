using System.CommandLine;
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
        var options = new ContainerOptions { UseStreaming = !parseResult.GetValue(_noStreaming) };
        // The connection and the bundle do not depend on each other: the agent answers the protocol and streaming
        // probes while config.json is parsed (System.Text.Json's first use, the larger part of kactl's own time before
        // CreateContainer; docs/BENCHMARKS.md, "kactl's own start"). A bundle that is not valid still wins: the
        // connection is dropped and only the bundle's error is reported, as before.
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(signals.First, cancellationToken);
        Task<AgentClient> connecting = ConnectAndProbeAsync(parseResult, options.UseStreaming, abandon.Token);
        Spec spec;
        try
        {
            spec = LoadSpec(bundleDirectory);
        }
        catch
        {
            await abandon.CancelAsync().ConfigureAwait(false);
            await DropAsync(connecting).ConfigureAwait(false);
            throw;
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
        string id = parseResult.GetValue(_id) ?? RandomIds.Hex(6);

        AgentClient client;
        try
        {
            // One short-lived run: ttrpc when the agent speaks it (ours and Kata's do) spares the HTTP/2 client's start,
            // a quarter of kactl's own CPU time for the run (docs/BENCHMARKS.md, "Whole-process run"); a gRPC-only agent
            // drops the ttrpc probe and gets gRPC.
            client = await connecting.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            return KactlCommands.Interrupted();
        }
        await using (client.ConfigureAwait(false))
        {
            // A refusal is an AgentStatusException naming CreateContainer: the guard maps it to exit 1.
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

    /// <summary>config.json as a Spec with something to run.</summary>
    /// <exception cref="KactlException">The bundle is not valid (exit 2).</exception>
    private static Spec LoadSpec(string bundleDirectory)
    {
        Spec spec;
        try
        {
            spec = OciBundle.Load(bundleDirectory).Spec;
        }
        catch (OciBundleException e)
        {
            throw new KactlException(ExitCodes.Usage, $"invalid bundle: {e.Message}", e);
        }
        if (spec.Process is null || spec.Process.Args.Count == 0)
        {
            throw new KactlException(ExitCodes.Usage, $"invalid bundle: {Path.Combine(Path.GetFullPath(bundleDirectory), OciBundle.ConfigFileName)}: $.process.args is missing or empty: nothing to run");
        }
        return spec;
    }

    /// <summary>
    /// Connects (detecting the protocol unless told) and, for a streaming run, asks whether the agent streams, so that
    /// CreateContainer finds the answer remembered (<see cref="StreamingSupport"/>).
    /// </summary>
    /// <exception cref="KactlException">As <see cref="GlobalOptions.ConnectAsync"/>.</exception>
    /// <exception cref="AgentStatusException">The streaming probe failed (the guard maps it to exit 1).</exception>
    private async Task<AgentClient> ConnectAndProbeAsync(ParseResult parseResult, bool streaming, CancellationToken cancellationToken)
    {
        var client = await _global.ConnectAsync(parseResult, cancellationToken, AgentProtocol.Detect).ConfigureAwait(false);
        StartupTimeline.Mark("connected");
        if (!streaming)
        {
            return client;
        }
        try
        {
            await StreamingSupport.IsAvailableAsync(client, cancellationToken).ConfigureAwait(false);
            StartupTimeline.Mark("streaming probed");
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes a connection begun for a run that will not happen, whatever became of it.</summary>
    private static async Task DropAsync(Task<AgentClient> connecting)
    {
        try
        {
            await (await connecting.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is KactlException or AgentStatusException or OperationCanceledException)
        {
            // The bundle's error is the one reported; the connection's own failure adds nothing to it.
        }
    }
}
