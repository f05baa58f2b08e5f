using System.CommandLine;
using KataAgent.Host;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl.Pods;

/// <summary>
/// <c>kactl pod rm POD… [-f]</c>: deletes pods: DeletePod (SIGTERM to each container, SIGKILL after --stop-timeout;
/// the guest unmounts the volumes), the VM stopped and its state deleted. <c>-f</c> kills the VM without asking the
/// agent, as does a pod whose VM does not answer.
/// </summary>
public sealed class PodRmCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "rm";

    private readonly GlobalOptions _global;

    private readonly Argument<string[]> _pods = new("POD")
    {
        Description = "Pod ids (or unique prefixes), as 'kactl pod ps' lists them",
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<bool> _force = new("--force", "-f")
    {
        Description = "Kill the VM without asking its agent to delete the pod",
    };

    private readonly Option<double> _stopTimeout = RunCommand.StopTimeoutOption();

    public PodRmCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "Delete pods (their containers stopped, the VM stopped, its state deleted; -f: kill the VM); prints each id removed")
        {
            _pods,
            _force,
            _stopTimeout,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var runDirectory = RunDirectory.FromEnvironment();
        bool force = parseResult.GetValue(_force);
        var timeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
        var grace = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout));
        int status = ExitCodes.Success;
        // Every pod is tried, also after one failed.
        foreach (string id in parseResult.GetRequiredValue(_pods))
        {
            try
            {
                var entry = PodSandboxes.Find(id);
                if (entry.State != SandboxLiveness.Running || force || !await DeleteThroughAgentAsync(entry, timeout, grace, cancellationToken).ConfigureAwait(false))
                {
                    await RemoveStaleAsync(entry, cancellationToken).ConfigureAwait(false);
                }
                runDirectory.Remove(entry.Id);
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

    /// <summary>Attaches and deletes the pod; false (with a warning) when the VM does not answer, so the caller kills it.</summary>
    private static async Task<bool> DeleteThroughAgentAsync(SandboxEntry entry, TimeSpan timeout, TimeSpan grace, CancellationToken cancellationToken)
    {
        Host.Pods.Pod pod;
        try
        {
            pod = await PodSandboxes.AttachAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KactlException e) when (!cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"kactl: warning: pod '{entry.Id}': {e.Message.Split('\n')[0]}; killing its VM").ConfigureAwait(false);
            return false;
        }
        try
        {
            await pod.DeleteAsync(grace, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PodNetworkException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"pod '{entry.Id}': its VM is gone, but {e.Message}; its state stays in {entry.Directory} for another 'kactl pod rm'", e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is KataAgentException or IOException)
        {
            await Console.Error.WriteLineAsync($"kactl: warning: pod '{entry.Id}': {e.Message.Split('\n')[0]}; killing its VM").ConfigureAwait(false);
            await pod.DisposeAsync().ConfigureAwait(false);
            return false;
        }
    }

    private static async Task RemoveStaleAsync(SandboxEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            await Sandbox.RemoveStaleAsync(entry.Directory, cancellationToken).ConfigureAwait(false);
        }
        catch (PodNetworkException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"pod '{entry.Id}': its VM is gone, but {e.Message}; its state stays in {entry.Directory} for another 'kactl pod rm'", e);
        }
        catch (VmException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"pod '{entry.Id}': {e.Message}", e);
        }
    }
}
