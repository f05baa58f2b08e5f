namespace KataAgent.Host.Vm;

/// <summary>
/// What a <see cref="Sandboxes.Sandbox"/> needs of its VM: the seam that lets the sandbox's ordering logic be
/// tested without qemu. <see cref="QemuVm"/> is the implementation.
/// </summary>
internal interface IVirtualMachine : IAsyncDisposable
{
    /// <summary>The state directory (sockets, logs, vm.json, the sandbox's files).</summary>
    string StateDirectory { get; }

    /// <summary>Whether the VM outlives its starter.</summary>
    bool Detached { get; }

    /// <summary>Whether the VM still runs.</summary>
    bool IsRunning { get; }

    /// <summary>Time from the VM's start to its agent's first answer.</summary>
    TimeSpan BootToReady { get; }

    /// <summary>The PCI paths of the NICs attached at boot.</summary>
    IReadOnlyList<string> NetworkPciPaths { get; }

    /// <summary>Hot-plugs a disk; returns its PCI path.</summary>
    Task<string> AddDiskAsync(QemuDisk disk, CancellationToken cancellationToken);

    /// <summary>Hot-unplugs the disk at a PCI path.</summary>
    Task RemoveDiskAsync(string pciPath, CancellationToken cancellationToken);

    /// <summary>The disks attached right now.</summary>
    Task<IReadOnlyList<QemuAttachedDisk>> QueryDisksAsync(CancellationToken cancellationToken);

    /// <summary>The directories shared into the guest over virtio-fs now.</summary>
    IReadOnlyList<QemuSharedDirectory> SharedDirectories { get; }

    /// <summary>Completes when a share's virtiofsd exits while the VM runs (the VM should then be stopped).</summary>
    Task<VirtiofsdExit> VirtiofsdFailure { get; }

    /// <summary>Hot-plugs a virtio-fs share; returns once the guest's driver has taken it.</summary>
    Task AddSharedDirectoryAsync(QemuSharedDirectory share, CancellationToken cancellationToken);

    /// <summary>Hot-unplugs the share with a tag and stops its virtiofsd.</summary>
    Task RemoveSharedDirectoryAsync(string tag, CancellationToken cancellationToken);

    /// <summary>The vCPUs and memory now, and the hot-plug room left.</summary>
    Task<QemuVmSize> QuerySizeAsync(CancellationToken cancellationToken);

    /// <summary>Hot-plugs one vCPU; returns how many the VM has now.</summary>
    Task<int> AddCpuAsync(CancellationToken cancellationToken);

    /// <summary>Hot-plugs a DIMM of that many MiB; returns its id.</summary>
    Task<string> AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <see cref="RemoveCpuAsync"/> can take vCPUs out: under KVM. qemu 7.2 under TCG loses track of an
    /// unplugged vCPU (docs/PODS.md "Resizing"), so there the resize keeps them plugged and offline.
    /// </summary>
    bool CanUnplugCpus { get; }

    /// <summary>Hot-unplugs the vCPU plugged last; returns how many the VM has now.</summary>
    Task<int> RemoveCpuAsync(CancellationToken cancellationToken);

    /// <summary>The DIMMs plugged now, in the order they were plugged.</summary>
    Task<IReadOnlyList<QemuDimm>> QueryDimmsAsync(CancellationToken cancellationToken);

    /// <summary>Hot-unplugs a DIMM by its id.</summary>
    Task RemoveMemoryAsync(string dimmId, CancellationToken cancellationToken);

    /// <summary>Stops the VM: a grace to power off by itself, then quit, then kill.</summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>Closes the connections and handles, leaving the VM (if it runs) and every file in the state directory.</summary>
    ValueTask CloseAsync();
}
