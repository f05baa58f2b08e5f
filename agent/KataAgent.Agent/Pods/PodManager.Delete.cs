using KataAgent.Agent.Errors;
using KataAgent.Linux.Interop;
using KataAgent.Protocols;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>DeletePod: stop, destroy, tear down, end; idempotent.</summary>
internal sealed partial class PodManager
{
    /// <summary>How long a container that got SIGKILL may take to go.</summary>
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// SIGTERM to every process of the running containers, up to <paramref name="grace"/> for them to exit, then
    /// each container destroyed (SIGKILL for what is left), the volumes torn down and the sandbox ended. A gate
    /// still running is killed first. Every step is tried even when one fails, and the pod is forgotten only when
    /// all succeeded, so a DeletePod that failed can be repeated; a pod already deleted is no error.
    /// </summary>
    public async Task DeleteAsync(string podId, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (ContainerIds.Problem(podId) is { } problem)
        {
            throw AgentException.InvalidArgument("pod_id", problem);
        }
        if (_pod is { } running && running.Id == podId)
        {
            running.Ending.Cancel();
        }
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_pod is not { } pod || pod.Id != podId)
            {
                if (_deleted.Contains(podId))
                {
                    return;
                }
                throw AgentException.NotFound("pod_id", $"no pod '{podId}'");
            }
            var failures = new List<string>();
            await StopAsync(pod, grace, cancellationToken).ConfigureAwait(false);
            foreach (var member in pod.Members.Reverse())
            {
                try
                {
                    if (_containers.Contains(member.ContainerId))
                    {
                        await _containers.RemoveAsync(member.ContainerId, KillTimeout, CancellationToken.None).ConfigureAwait(false);
                    }
                    _containers.StartGuard.Release(member.ContainerId);
                }
                catch (Exception e)
                {
                    failures.Add($"{member.Field}: {e.Message}");
                }
            }
            foreach (string volume in pod.Volumes.Reverse())
            {
                try
                {
                    await _volumes.TearDownAsync(pod.Id, volume, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    failures.Add($"volume '{volume}': {e.Message}");
                }
            }
            if (failures.Count == 0)
            {
                try
                {
                    await _sandbox.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    failures.Add($"the sandbox: {e.Message}");
                }
            }
            if (failures.Count > 0)
            {
                throw AgentException.Internal($"deleting pod '{pod.Id}' did not finish (DeletePod again to retry): {string.Join("; ", failures)}");
            }
            _pod = null;
            _deleted.Add(pod.Id);
            pod.Watchers.End();
            _logger.LogInformation("pod {Pod} deleted", pod.Id);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>SIGTERM to every process of every running container, then up to <paramref name="grace"/> for their inits to exit.</summary>
    private async Task StopAsync(Pod pod, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (grace <= TimeSpan.Zero)
        {
            return;
        }
        var exits = new List<Task>();
        foreach (var member in pod.Members)
        {
            if (!_containers.Contains(member.ContainerId))
            {
                continue;
            }
            var container = _containers.Get(member.ContainerId);
            if (container.StartedAt is null || container.Init.HasExited)
            {
                continue;
            }
            foreach (var process in container.Processes)
            {
                try
                {
                    process.Signal(Libc.SIGTERM);
                }
                catch (LinuxException e)
                {
                    _logger.LogWarning("DeletePod {Pod}: SIGTERM to {Container}: {Error}", pod.Id, member.ContainerId, e.Message);
                }
            }
            exits.Add(container.Init.Exited);
        }
        try
        {
            await Task.WhenAll(exits).WaitAsync(grace, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogInformation("DeletePod {Pod}: containers still running after {Grace} s get SIGKILL", pod.Id, grace.TotalSeconds);
        }
    }
}
