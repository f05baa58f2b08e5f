namespace KataAgent.Host;

/// <summary>What kind of failure a <see cref="KataAgentException"/> reports: what a caller branches on.</summary>
public enum KataAgentErrorKind
{
    /// <summary>The agent could not be reached, or the connection to it broke during a call (<see cref="AgentConnectException"/>, or an <see cref="AgentStatusException"/> for a call whose transport failed).</summary>
    Connect,

    /// <summary>The agent answered a call with a status other than OK (<see cref="AgentStatusException"/>).</summary>
    AgentStatus,

    /// <summary>The VM or its agent did not come up (<see cref="Vm.QemuBootException"/>).</summary>
    Boot,

    /// <summary>A running VM could not do what was asked, or is not there: no VM in a state directory, qemu not running or not startable, no free hot-plug slot, a disk the guest would not release (<see cref="Vm.VmException"/>).</summary>
    Vm,

    /// <summary>qemu refused a QMP command, or its QMP socket could not be used (<see cref="Vm.QmpException"/>, <see cref="Vm.QmpConnectionException"/>).</summary>
    Qmp,

    /// <summary>The pod network could not be scanned, wired into the VM or restored (<see cref="Network.PodNetworkException"/>).</summary>
    Network,

    /// <summary>An OCI bundle could not be loaded (<see cref="Containers.OciBundleException"/>).</summary>
    Bundle,

    /// <summary>A rootfs could not be packed into a disk image (<see cref="Sandboxes.DiskImageException"/>).</summary>
    DiskImage,

    /// <summary>A sandbox's shared directory (virtio-fs) could not be set up, shared into or taken down on the host, or its virtiofsd died (<see cref="SharedFs.ShareException"/>).</summary>
    Share,

    /// <summary>A pod's start gate failed in the guest, so its containers may not start (<see cref="Pods.PodStartGateException"/>).</summary>
    StartGate,

    /// <summary>A sandbox could not be checkpointed or restored: a device that cannot migrate, a corrupt or truncated checkpoint, a migration qemu failed (<see cref="Checkpoints.CheckpointException"/>).</summary>
    Checkpoint,
}
