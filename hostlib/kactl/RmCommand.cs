using System.CommandLine;
using Grpc.Core;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl rm [-f] ID…</c>: stops a sandbox's VM and deletes its state. A running VM is asked to
/// go through its agent (DestroySandbox: the containers are stopped, the guest powers off, qemu
/// exits); if it does not, or with <c>-f</c> at once, qemu is killed. A stopped one (its kactl or
/// qemu died) only has its state deleted.
/// </summary>
public sealed class RmCommand
{
    public const string Name = "rm";

    /// <summary>How long the guest gets to power off after DestroySandbox (TCG is slow) before qemu is killed.</summary>
    public static readonly TimeSpan PowerOffGrace = TimeSpan.FromSeconds(30);

    /// <summary>How long qemu gets after SIGTERM before SIGKILL.</summary>
    public static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private readonly GlobalOptions _global;

    private readonly Argument<string[]> _ids = new("ID")
    {
        Description = "Sandbox ids (or unique prefixes), as 'kactl ps' lists them",
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<bool> _force = new("--force", "-f")
    {
        Description = "Kill the VM without asking its agent to shut down",
    };

    public RmCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "Stop sandboxes' VMs (DestroySandbox through the agent; -f: kill qemu) and delete their state; prints each id removed")
        {
            _ids,
            _force,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var runDirectory = RunDirectory.FromEnvironment();
        bool force = parseResult.GetValue(_force);
        var connectTimeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
        int status = ExitCodes.Success;
        // Every id is tried, also after one failed: an rm of several should leave as little behind as it can.
        foreach (string id in parseResult.GetRequiredValue(_ids))
        {
            try
            {
                var entry = runDirectory.Find(id);
                await RemoveAsync(runDirectory, entry, force, connectTimeout, cancellationToken).ConfigureAwait(false);
                await Console.Out.WriteLineAsync(entry.Id).ConfigureAwait(false);
            }
            catch (KactlException e) when (!cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"kactl: {e.Message}").ConfigureAwait(false);
                status = e.ExitCode;
            }
        }
        return status;
    }

    private static async Task RemoveAsync(RunDirectory runDirectory, SandboxEntry entry, bool force, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        if (entry.State == SandboxState.Running)
        {
            int pid = entry.Record!.QemuPid;
            bool gone = !force && await DestroyThroughAgentAsync(entry, connectTimeout, cancellationToken).ConfigureAwait(false);
            if (!gone)
            {
                await QemuTermination.KillAsync(pid, entry.Directory, KillGrace, cancellationToken).ConfigureAwait(false);
            }
        }
        runDirectory.Remove(entry);
    }

    /// <summary>DestroySandbox, then the wait for the powered-off guest's qemu to exit; false when either did not happen.</summary>
    private static async Task<bool> DestroyThroughAgentAsync(SandboxEntry entry, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        try
        {
            await using var agent = await SandboxAgent.ConnectAsync(entry, connectTimeout, cancellationToken).ConfigureAwait(false);
            await agent.DestroySandboxAsync(new DestroySandboxRequest(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KactlException or RpcException && !cancellationToken.IsCancellationRequested)
        {
            // The VM is going anyway: the agent's refusal is reported, qemu is killed.
            await Console.Error.WriteLineAsync($"kactl: warning: sandbox '{entry.Id}': {(e is RpcException rpc ? $"DestroySandbox failed: {rpc.StatusCode}: {rpc.Status.Detail}" : e.Message)}; killing its VM").ConfigureAwait(false);
            return false;
        }
        return await QemuTermination.WaitForExitAsync(entry.Record!.QemuPid, entry.Directory, PowerOffGrace, cancellationToken).ConfigureAwait(false);
    }
}
