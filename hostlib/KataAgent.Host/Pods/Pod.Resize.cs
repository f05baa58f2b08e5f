using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Pods;

public sealed partial class Pod
{
    /// <summary>
    /// Resizes the VM in place to <paramref name="cpus"/> vCPUs and <paramref name="memoryMiB"/> of memory (grow or
    /// shrink), with the containers' cgroup limits in the same operation (Kubernetes' in-place pod resize). In order:
    /// the vCPUs and the memory (one DIMM of whole 128 MiB blocks) that grow are hot-plugged; then one UpdatePod has the
    /// guest online them, offline the vCPUs above <paramref name="cpus"/> and set the limits of the containers named in
    /// <paramref name="resources"/> (the others keep theirs); then the vCPUs that go are unplugged, and whole DIMMs, the
    /// last plugged first, as long as the memory stays at or above <paramref name="memoryMiB"/>. The guest onlines
    /// hot-plugged memory movable, so a DIMM can be taken back once its pages have been migrated off it. The boot size
    /// is the floor.
    /// </summary>
    /// <param name="cpus">vCPUs to have, between the boot vCPUs and <see cref="Vm.QemuOptions.MaxCpus"/>.</param>
    /// <param name="memoryMiB">Memory to have, between the boot memory and <see cref="Vm.QemuOptions.MaxMemoryMiB"/>: growth rounds up to whole blocks, a shrink stops at the last whole DIMM that keeps at least this much.</param>
    /// <param name="resources">New requests and limits by container name; null or absent: unchanged.</param>
    /// <param name="cancellationToken">Cancels the resize between steps.</param>
    /// <returns>The VM's size afterwards, as qemu reports it.</returns>
    /// <exception cref="Vm.VmException">The size is beyond the VM's headroom or below its boot size (the message names the field),
    /// or the guest did not give up a vCPU or DIMM.</exception>
    /// <exception cref="AgentStatusException">UpdatePod failed (the plugged devices stay for the next resize to online).</exception>
    /// <exception cref="KeyNotFoundException"><paramref name="resources"/> names a container the pod does not have.</exception>
    public Task<SandboxResources> ResizeAsync(int cpus, int memoryMiB, IReadOnlyDictionary<string, PodResources>? resources = null, CancellationToken cancellationToken = default)
    {
        var limits = new List<ContainerResources>();
        foreach (var (name, value) in resources ?? new Dictionary<string, PodResources>())
        {
            PodSpec.ValidateResources(value, $"resources[{name}]");
            limits.Add(new ContainerResources { ContainerId = this[name].Id, Resources = PodContainerSpecs.Resources(value, forUpdate: true) });
        }
        return Sandbox.ResizeCoreAsync(cpus, memoryMiB, shrink: true, async (step, ct) =>
        {
            var request = new UpdatePodRequest { PodId = Id, Vcpus = (uint)step.Cpus, OnlineMemory = step.MemoryPlugged };
            request.Containers.Add(limits);
            await Sandbox.Agent.UpdatePodAsync(request, ct).ConfigureAwait(false);
        }, cancellationToken);
    }
}
