using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Sizing;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>The type URL containerd gives Update's resources (JSON).</summary>
    public const string ResourcesTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

    /// <summary>
    /// Update: the container's new cgroup limits, applied in the guest after the VM has grown (vCPU and memory
    /// hot-plug) to what its containers now ask for, within its headroom.
    /// </summary>
    private async Task<Empty> UpdateAsync(UpdateTaskRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        if (task.Role == PodRole.Sandbox)
        {
            throw TaskException.FailedPrecondition($"task {task.Id} is the pod's sandbox (its VM): update the resources of its containers");
        }
        if (request.Resources is null || request.Resources.Value.IsEmpty)
        {
            throw TaskException.InvalidArgument("resources", "is empty");
        }
        if (TypeName(request.Resources.TypeUrl) != ResourcesTypeUrl)
        {
            throw TaskException.InvalidArgument("resources", $"type '{request.Resources.TypeUrl}' is not {ResourcesTypeUrl}");
        }
        var resources = OciBundle.ParseResources(request.Resources.Value.Span, "resources");
        await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (task.Container is not { } container || task.Init.Status is not (Protocols.Containerd.Types.Status.Running or Protocols.Containerd.Types.Status.Paused or Protocols.Containerd.Types.Status.Created))
            {
                throw TaskException.FailedPrecondition($"task {task.Id} is {task.Init.Status.ToString().ToLowerInvariant()}: its resources cannot change");
            }
            var vm = _vm ?? throw TaskException.FailedPrecondition($"the VM of task {task.Id} is gone");
            var previous = task.Resources;
            task.Resources = resources;
            try
            {
                await GrowVmForAsync(vm, task, cancellationToken).ConfigureAwait(false);
                await container.UpdateAsync(resources, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                task.Resources = previous;
                throw;
            }
        }
        finally
        {
            task.Gate.Release();
        }
        return new Empty();
    }

    /// <summary>
    /// Grows the VM to what its containers (with <paramref name="task"/>'s resources as they are now) ask for, never
    /// below its boot size, cut to its headroom.
    /// </summary>
    private async Task GrowVmForAsync(PodVm vm, ShimTask task, CancellationToken cancellationToken)
    {
        await vm.ResizeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var members = Tasks().Where(t => t.Role != PodRole.Sandbox && t.Id != task.Id).Append(task);
            var demand = VmSizing.Demand(members.Select(t => t.Resources));
            var target = VmSizing.Target(vm.Size, demand, vm.Sizing);
            if (target.Capped)
            {
                ShimLog.Warn($"the containers of {vm.SandboxId} ask for {demand.MilliCpus} mCPU and {demand.MemoryMiB} MiB, more than the VM can grow to ({vm.Size.MaxCpus} vCPUs, {vm.Size.MaxMemoryMiB} MiB)");
            }
            await vm.Sandbox.EnsureResourcesAsync(target.Cpus, target.MemoryMiB, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            vm.ResizeGate.Release();
        }
    }

    /// <summary>
    /// Stats: the container's cgroup v2 metrics (<c>io.containerd.cgroups.v2.Metrics</c>); for the pod's sandbox, which
    /// is the VM, the whole guest's (<see cref="Host.Sandboxes.Sandbox.StatsAsync"/>).
    /// </summary>
    private async Task<StatsResponse> StatsAsync(StatsRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        if (task.Init.Status == Protocols.Containerd.Types.Status.Stopped)
        {
            throw TaskException.FailedPrecondition($"task {task.Id} has exited: it has no metrics");
        }
        StatsContainerResponse stats;
        if (task.Container is { } container)
        {
            stats = await container.StatsAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var vm = _vm ?? throw TaskException.FailedPrecondition($"the VM of task {task.Id} is gone");
            stats = await vm.Sandbox.StatsAsync(cancellationToken).ConfigureAwait(false);
        }
        return new StatsResponse { Stats = MetricsMapper.ToAny(stats) };
    }
}
