using System.CommandLine;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl rm [-f] ID…</c>: stops a sandbox's VM and deletes its state. A running VM is destroyed
/// through the host library's <see cref="Sandbox.DestroyAsync"/> (DestroySandbox: the containers are
/// stopped and the guest powers off; then QMP quit, then kill); if the sandbox cannot be attached
/// (its agent or QMP does not answer), or with <c>-f</c> at once, qemu is killed by pid. A stopped
/// one (its kactl or qemu died) only has its state deleted. Either way a pod network (<c>--netns</c>) is
/// restored first, from the teardown journal in the sandbox's directory.
/// </summary>
public sealed class RmCommand
{
    public const string Name = "rm";

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
        // A VM that did not go through DestroySandbox (killed, stopped by itself, or its kactl died) leaves its
        // pod netns wired; the journal in its directory says how to restore it. On failure the directory stays,
        // so that another rm can try again.
        try
        {
            await Sandbox.RestoreNetworkAsync(entry.Directory, cancellationToken).ConfigureAwait(false);
        }
        catch (KataAgent.Host.Network.PodNetworkException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}': its VM is gone, but {e.Message}; its state stays in {entry.Directory} for another 'kactl rm'");
        }
        runDirectory.Remove(entry.Id);
    }

    /// <summary>Attaches to the sandbox and destroys it; false (with a warning) when it cannot be attached or destroyed.</summary>
    private static async Task<bool> DestroyThroughAgentAsync(SandboxEntry entry, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        // The attach waits for QMP and the agent; a hung guest must not hold rm for the library's long boot timeout.
        using var attachLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attachLimit.CancelAfter(connectTimeout);
        Sandbox sandbox;
        try
        {
            sandbox = await Sandbox.AttachAsync(entry.Directory, attachLimit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is InvalidOperationException or OperationCanceledException or AgentConnectException or QmpException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            await WarnKillingAsync(entry, e is OperationCanceledException ? $"the VM did not answer within {connectTimeout.TotalSeconds:0.#} s" : e.Message).ConfigureAwait(false);
            return false;
        }
        try
        {
            await sandbox.DestroyAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is RpcException or QmpException or IOException or TimeoutException or InvalidOperationException)
        {
            await WarnKillingAsync(entry, e.Message).ConfigureAwait(false);
            await sandbox.DisposeAsync().ConfigureAwait(false);
            return false;
        }
    }

    private static Task WarnKillingAsync(SandboxEntry entry, string reason) =>
        // The VM is going anyway: why the clean way failed is reported, and qemu is killed.
        Console.Error.WriteLineAsync($"kactl: warning: sandbox '{entry.Id}': {reason.Split('\n')[0]}; killing its VM");
}
