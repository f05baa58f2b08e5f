using System.CommandLine;
using System.Text;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Image;
using KataAgent.Kactl.Images;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>kactl's command tree (check, version, call, rpcs, run, exec, ps, logs, rm, console, pull, images, rmi, load, pod) and how failures become exit codes.</summary>
public static class KactlCommands
{
    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        RootCommand root = Build();
        StartupTimeline.Mark("built");
        ParseResult parseResult = root.Parse(args);
        StartupTimeline.Mark("parsed");
        if (parseResult.Errors.Count > 0)
        {
            // System.CommandLine would print the help and exit 1; kactl keeps 1 for RPC failures.
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync($"kactl: {error.Message}").ConfigureAwait(false);
            }
            await Console.Error.WriteLineAsync("Try 'kactl --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        // run, exec and console pass SIGINT/SIGTERM on to the container and clean up, the vsock backend stops cleanly (InterruptSignals);
        // System.CommandLine's own handling would end kactl 2 s into that.
        InvocationConfiguration? invocation = parseResult.CommandResult.Command.Name is RunCommand.Name or ExecCommand.Name or ConsoleCommand.Name or VhostUserVsockCommand.Name
                && (parseResult.CommandResult.Command.Parents.Contains(root) || parseResult.CommandResult.Command.Parents.Any(p => p is Command { Name: Pods.PodCommand.Name }))
            ? new InvocationConfiguration { ProcessTerminationTimeout = null }
            : null;
        return await parseResult.InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>The command tree.</summary>
    public static RootCommand Build()
    {
        var global = new GlobalOptions();
        var root = new RootCommand("kactl: run a command or an OCI image in a container in a VM of its own (run, ps, exec, logs, console, rm; pull, images, rmi, load), or talk to a KataAgent (or any Kata Containers agent) over gRPC, like Kata's agent-ctl.");
        global.AddTo(root);

        var check = new Command("check", "Call Health.Check and print the serving status (e.g. SERVING)");
        check.SetAction(Guard(async (parseResult, cancellationToken) =>
        {
            await using var client = await global.ConnectAsync(parseResult, cancellationToken).ConfigureAwait(false);
            HealthCheckResponse response;
            try
            {
                response = await client.Health.CheckAsync(new CheckRequest(), new CallOptions(deadline: global.CallDeadline(parseResult, false), cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw RpcFailure("Health.Check", e);
            }
            string status = HealthCheckResponse.Descriptor.FindFieldByNumber(HealthCheckResponse.StatusFieldNumber).EnumType
                .FindValueByNumber((int)response.Status)?.Name ?? ((int)response.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Console.Out.WriteLineAsync(status).ConfigureAwait(false);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving ? ExitCodes.Success : ExitCodes.RpcFailed;
        }));

        var version = new Command("version", "Call Health.Version and print the agent version and the agent API version");
        version.SetAction(Guard(async (parseResult, cancellationToken) =>
        {
            await using var client = await global.ConnectAsync(parseResult, cancellationToken).ConfigureAwait(false);
            VersionCheckResponse response;
            try
            {
                response = await client.Health.VersionAsync(new CheckRequest(), new CallOptions(deadline: global.CallDeadline(parseResult, false), cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw RpcFailure("Health.Version", e);
            }
            await Console.Out.WriteLineAsync($"agent version: {response.AgentVersion}\napi version:   {response.GrpcVersion}").ConfigureAwait(false);
            return ExitCodes.Success;
        }));

        var rpcs = new Command("rpcs", "List the RPCs 'kactl call' accepts, with their request and response types");
        rpcs.SetAction(_ =>
        {
            Console.Out.Write(DescribeRpcs());
            return ExitCodes.Success;
        });

        root.Add(check);
        root.Add(version);
        root.Add(new CallCommand(global).Command);
        root.Add(rpcs);
        root.Add(new RunCommand(global).Command);
        root.Add(new ExecCommand(global).Command);
        root.Add(new PsCommand().Command);
        root.Add(new LogsCommand().Command);
        root.Add(new RmCommand(global).Command);
        root.Add(new Checkpoints.CheckpointCommand(global).Command);
        root.Add(new Checkpoints.RestoreCommand().Command);
        root.Add(new ConsoleCommand().Command);
        root.Add(new PullCommand().Command);
        root.Add(new ImagesCommand().Command);
        root.Add(new RmiCommand().Command);
        root.Add(new LoadCommand().Command);
        root.Add(new Pods.PodCommand(global).Command);
        root.Add(new VhostUserVsockCommand().Command);
        return root;
    }

    /// <summary>One line per RPC: name, request type -> response type.</summary>
    public static string DescribeRpcs()
    {
        int width = RpcCatalog.All.Max(e => e.Name.Length);
        var text = new StringBuilder();
        foreach (var rpc in RpcCatalog.All.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            text.Append(rpc.Name.PadRight(width)).Append("  ")
                .Append(rpc.InputType.FullName).Append(" -> ").Append(rpc.OutputType.FullName)
                .Append(rpc.IsLongPoll ? "  (long poll)" : "").Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The exception for a failed call: <c>RPC failed: Code (n): detail</c>, exit 1.</summary>
    public static KactlException RpcFailure(string rpcName, RpcException e) =>
        new(ExitCodes.RpcFailed, $"{rpcName} failed: {e.StatusCode} ({(int)e.StatusCode}): {OneLine(e.Status.Detail)}", e);

    /// <summary>Reports an interrupt that came before anything was created; returns <see cref="ExitCodes.Interrupted"/>.</summary>
    public static int Interrupted()
    {
        Console.Error.WriteLine("kactl: interrupted");
        return ExitCodes.Interrupted;
    }

    /// <summary>Prints each warning as one <c>kactl: warning: …</c> line on stderr.</summary>
    public static async Task WarnAsync(IEnumerable<string> warnings)
    {
        foreach (string warning in warnings)
        {
            await Console.Error.WriteLineAsync($"kactl: warning: {OneLine(warning)}").ConfigureAwait(false);
        }
    }

    /// <summary>Runs an attached session to the process's end: its exit status (a failed StartContainer or WaitProcess is the library's AgentStatusException, which the guard reports), then the session's warnings.</summary>
    public static async Task<int> RunSessionAsync(ProcessSession session)
    {
        // A failed StartContainer or WaitProcess is an AgentStatusException naming its RPC: the guard reports it.
        int status = await session.RunAsync().ConfigureAwait(false);
        await WarnAsync(session.Warnings).ConfigureAwait(false);
        return status;
    }

    /// <summary>Wraps an action so that every failure ends as one line on stderr and a documented exit code.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Guard(Func<ParseResult, CancellationToken, Task<int>> action) =>
        async (parseResult, cancellationToken) =>
        {
            try
            {
                return await action(parseResult, cancellationToken).ConfigureAwait(false);
            }
            catch (KactlException e) when (!(e.ExitCode == ExitCodes.ConnectFailed && cancellationToken.IsCancellationRequested))
            {
                await Console.Error.WriteLineAsync($"kactl: {OneLine(e.Message)}").ConfigureAwait(false);
                return e.ExitCode;
            }
            catch (ImageException e) when (!cancellationToken.IsCancellationRequested)
            {
                // The image library's one family, translated here once: its kind says which exit code and hint.
                await Console.Error.WriteLineAsync($"kactl: {OneLine(ImageErrors.Describe(e))}").ConfigureAwait(false);
                return ExitCodes.For(e);
            }
            catch (KataAgentException e) when (!cancellationToken.IsCancellationRequested)
            {
                // The host library's one family: its kind says which exit code.
                await Console.Error.WriteLineAsync($"kactl: {OneLine(e.Message)}").ConfigureAwait(false);
                return ExitCodes.For(e);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException or KactlException or KataAgentException or ImageException)
            {
                await Console.Error.WriteLineAsync("kactl: interrupted").ConfigureAwait(false);
                return ExitCodes.Interrupted;
            }
        };

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
