namespace KataAgent.Host.Vm;

/// <summary>The vsock device a <see cref="QemuVm"/> got, as chosen at its start and kept in vm.json.</summary>
internal enum QemuVsockDevice
{
    /// <summary>No vsock device: the agent is on virtio-serial.</summary>
    None,

    /// <summary>The kernel's vhost-vsock (<c>vhost-vsock-pci,guest-cid=N</c>): AF_VSOCK from the host.</summary>
    Kernel,

    /// <summary>Our vhost-user-vsock backend (<c>vhost-user-vsock-pci</c>): hybrid vsock from the host.</summary>
    VhostUser,
}
