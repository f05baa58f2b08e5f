using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;

namespace KataAgent.Host.Pods;

/// <summary>
/// A whole pod in its own VM, set up in one call: the VM sized from the pod's requests, its images and volumes, and
/// every container created by the agent's kataagent.v1 Pods/CreatePod as one transaction (all or none). Started
/// by <see cref="StartAsync"/> once the guest's start gate allows it; resized in place by <see cref="ResizeAsync"/>.
/// </summary>
public sealed partial class Pod : IAsyncDisposable
{
    /// <summary>Boots the VM for <paramref name="spec"/>, prepares its images and volumes and creates its containers (not started).</summary>
    public static Task<Pod> CreateAsync(PodSpec spec, PodOptions options, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Reconnects to a pod another process created, from its state directory.</summary>
    public static Task<Pod> AttachAsync(string stateDirectory, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>The sandbox id.</summary>
    public string Id => throw new NotImplementedException();

    /// <summary>What the pod was created from.</summary>
    public PodSpec Spec => throw new NotImplementedException();

    /// <summary>The VM and agent connection underneath.</summary>
    public Sandbox Sandbox => throw new NotImplementedException();

    /// <summary>The pod's containers, by name, in the spec's order.</summary>
    public IReadOnlyList<(string Name, Container Container)> Containers => throw new NotImplementedException();

    /// <summary>Runs the start gate in the guest (if any) and starts every container.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Resizes the VM in place to <paramref name="cpus"/> vCPUs and <paramref name="memoryMiB"/> of memory (grow or shrink), with the containers' cgroup limits in the same operation.</summary>
    public Task<SandboxResources> ResizeAsync(int cpus, int memoryMiB, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Stops every container (SIGTERM, then SIGKILL after <paramref name="grace"/>), deletes the pod in the guest and tears the VM down.</summary>
    public Task DeleteAsync(TimeSpan grace, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
