using KataAgent.Host;
using KataAgent.Host.Pods;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl.Pods;

/// <summary>The pods among kactl's sandboxes (those <c>kactl pod run</c> made), and reconnecting to one.</summary>
internal static class PodSandboxes
{
    /// <summary>The pod named <paramref name="idOrPrefix"/> in the run directory.</summary>
    /// <exception cref="KactlException">No such sandbox, or not a pod, or its VM is gone (exit 2).</exception>
    public static SandboxEntry Find(string idOrPrefix)
    {
        var entry = RunDirectory.FromEnvironment().Find(idOrPrefix);
        if (entry.Record is { Pod: null })
        {
            throw new KactlException(ExitCodes.Usage, $"sandbox '{entry.Id}' is no pod ('kactl run' made it): use kactl exec, logs and rm");
        }
        return entry;
    }

    /// <summary>Reconnects to the pod of <paramref name="entry"/>, waiting at most <paramref name="timeout"/> for its agent.</summary>
    /// <exception cref="KactlException">Its VM is not running, or does not answer (exit 3).</exception>
    public static async Task<Pod> AttachAsync(SandboxEntry entry, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (entry.State != SandboxLiveness.Running)
        {
            throw new KactlException(ExitCodes.VmFailed, $"pod '{entry.Id}' is {entry.State.ToString().ToLowerInvariant()}: its VM is not running ('kactl pod rm {entry.Id}' removes what is left)");
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await Pod.AttachAsync(entry.Directory, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KactlException(ExitCodes.VmFailed, $"pod '{entry.Id}': its VM did not answer within {timeout.TotalSeconds:0.#} s", e);
        }
        catch (KataAgentException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KactlException(ExitCodes.For(e), $"pod '{entry.Id}': {e.Message}", e);
        }
    }
}
