using System.CommandLine;
using KataAgent.Host;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl rm [-f] ID…</c>: stops a sandbox's VM and deletes its state. A running VM is destroyed
/// through the host library's <see cref="Sandbox.DestroyAsync"/> (DestroySandbox: the containers are
/// stopped and the guest powers off; then QMP quit, then kill); if the sandbox cannot be attached or
/// destroyed (its agent or QMP does not answer), or with <c>-f</c> at once, or when its VM is gone already,
/// the library's <see cref="Sandbox.RemoveStaleAsync"/> ends qemu (pidfd-checked), restores the pod network
/// (<c>--netns</c>) from the teardown journal and deletes the state. If the network cannot be restored, the
/// directory stays for another <c>kactl rm</c>.
/// </summary>
public sealed class RmCommand
{
    public const string Name = "rm";

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
        if (entry.State == SandboxLiveness.Running && !force && await DestroyThroughAgentAsync(entry, connectTimeout, cancellationToken).ConfigureAwait(false))
        {
            runDirectory.Remove(entry.Id);
            return;
        }
        // A VM that did not go through DestroySandbox (killed, stopped by itself, or its kactl died) leaves its
        // pod netns wired; the journal in its directory says how to restore it.
        try
        {
            await Sandbox.RemoveStaleAsync(entry.Directory, cancellationToken).ConfigureAwait(false);
        }
        catch (PodNetworkException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}': its VM is gone, but {e.Message}; its state stays in {entry.Directory} for another 'kactl rm'", e);
        }
        catch (VmException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}': {e.Message}", e);
        }
        runDirectory.Remove(entry.Id);
    }

    /// <summary>
    /// Attaches to the sandbox and destroys it; false (with a warning) when it cannot be attached or destroyed
    /// before its VM was gone (the caller then removes it as stale).
    /// </summary>
    /// <exception cref="KactlException">The VM is gone, but the pod network could not be restored.</exception>
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
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is KataAgentException or OperationCanceledException or IOException or System.Net.Sockets.SocketException)
        {
            await WarnKillingAsync(entry, e is OperationCanceledException ? $"the VM did not answer within {connectTimeout.TotalSeconds:0.#} s" : e.Message).ConfigureAwait(false);
            return false;
        }
        try
        {
            await sandbox.DestroyAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PodNetworkException e)
        {
            await sandbox.DisposeAsync().ConfigureAwait(false);
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}': its VM is gone, but {e.Message}; its state stays in {entry.Directory} for another 'kactl rm'", e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is KataAgentException or IOException)
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
