using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>CreatePod: the sandbox, the volumes and every container as one transaction.</summary>
internal sealed partial class PodManager
{
    /// <summary>
    /// Checks every field first (<see cref="PodRequestValidator"/>), then: CreateSandbox's work, each volume set up,
    /// each container created (with its volume mounts bound into its spec) in the request's order, exactly as
    /// Kata's CreateContainer creates it. A gate holds every container from the moment before it exists. On any
    /// failure all of it is undone in reverse order, and the error names the failing part.
    /// </summary>
    public async Task CreateAsync(CreatePodRequest request, CancellationToken cancellationToken)
    {
        var (podId, members) = PodRequestValidator.Validate(request);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_pod is { } existing)
            {
                throw AgentException.AlreadyExists("sandbox.sandbox_id", $"pod '{existing.Id}' exists already (one pod per guest)");
            }
            if (_sandbox.Exists)
            {
                throw AgentException.AlreadyExists("sandbox.sandbox_id", $"sandbox '{_sandbox.SandboxId}' exists already (one sandbox per guest)");
            }
            var gateStatus = new GateStatus { State = request.StartGate is null ? GateStatus.Types.State.None : GateStatus.Types.State.Pending };
            var undo = new Stack<(string What, Func<Task> Step)>();
            var volumeNames = new List<string>();
            try
            {
                await PodRequestValidator.NestedAsync("sandbox.", () => _sandbox.CreateAsync(request.Sandbox, cancellationToken)).ConfigureAwait(false);
                undo.Push(("the sandbox", () => _sandbox.DestroyAsync(CancellationToken.None)));

                var directories = new Dictionary<string, string>(StringComparer.Ordinal);
                for (int i = 0; i < request.Volumes.Count; i++)
                {
                    var volume = request.Volumes[i];
                    // GuestVolumes names volumes[i] in its own errors.
                    directories[volume.Name] = await _volumes.SetUpAsync(podId, volume, $"volumes[{i}]", cancellationToken).ConfigureAwait(false);
                    volumeNames.Add(volume.Name);
                    undo.Push(($"volume '{volume.Name}'", () => _volumes.TearDownAsync(podId, volume.Name, CancellationToken.None)));
                }

                foreach (var member in members)
                {
                    var create = request.Containers[member.Index].Container;
                    var spec = VolumeMountPaths.Bind(create.OCI, request.Containers[member.Index].VolumeMounts, directories, $"containers[{member.Index}]");
                    if (request.StartGate is not null)
                    {
                        // Before the container exists, so no StartContainer can slip in between.
                        _containers.StartGuard.Hold(member.ContainerId, () => GateRefusal(member.ContainerId));
                        undo.Push(($"the start hold on {member.Field}", () => { _containers.StartGuard.Release(member.ContainerId); return Task.CompletedTask; }));
                    }
                    await PodRequestValidator.NestedAsync($"{member.Field}.container.",
                        () => _containers.CreateAsync(create.ContainerId, create.ExecId, spec, create.Storages, create.SandboxPidns, cancellationToken)).ConfigureAwait(false);
                    undo.Push((member.Field, () => _containers.RemoveAsync(member.ContainerId, TimeSpan.FromSeconds(30), CancellationToken.None)));
                }
            }
            catch (Exception e)
            {
                _logger.LogWarning("CreatePod {Pod} failed, undoing what was done: {Error}", podId, e.Message);
                while (undo.TryPop(out var step))
                {
                    try
                    {
                        await step.Step().ConfigureAwait(false);
                    }
                    catch (Exception undoError)
                    {
                        _logger.LogError("CreatePod {Pod}: undoing {What} failed: {Error}", podId, step.What, undoError.Message);
                    }
                }
                throw;
            }
            _pod = new Pod(podId, members, volumeNames, request.StartGate, new Dictionary<string, string>(request.Annotations)) { GateStatus = gateStatus };
            _deleted.Remove(podId);
            _logger.LogInformation("pod {Pod} created: {Count} containers ({Names}), {Volumes} volumes, start gate: {Gate}",
                podId, members.Count, string.Join(", ", members.Select(m => m.Name)), volumeNames.Count, request.StartGate is null ? "none" : string.Join(' ', request.StartGate.Args));
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Why a container of the pod may not start now (its gate has not passed), or null.</summary>
    private string? GateRefusal(string containerId)
    {
        var pod = _pod;
        if (pod is null || pod.FindByContainerId(containerId) is null)
        {
            // CreatePod has not finished: nothing of the pod starts before it has.
            return "its pod is still being created";
        }
        var gate = pod.GateStatus;
        return pod.GateOpen ? null : gate.State == GateStatus.Types.State.Failed
            ? $"the start gate of pod '{pod.Id}' failed ({gate.Reason}); StartPod runs it again"
            : $"the start gate of pod '{pod.Id}' has not passed yet (StartPod runs it)";
    }
}
