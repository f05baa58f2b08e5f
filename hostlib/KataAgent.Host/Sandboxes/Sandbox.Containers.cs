using KataAgent.Host.Containers;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;
using KataAgent.Protocols;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Guest;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>
    /// Gives container <paramref name="containerId"/> the rootfs directory <paramref name="rootfsDirectory"/> and sends
    /// CreateContainer with <paramref name="spec"/> (the caller's spec is not changed). With
    /// <see cref="RootfsMode.VirtioFs"/> the directory is bind-mounted into the sandbox's share and <c>Root.Path</c> set
    /// to its guest path (<see cref="SharedRootfsPath"/>), with no Storage for it, as Kata's runtime does; the
    /// container's writes land in the directory. The spec's bind mounts whose source is a host path (anything outside
    /// /run/kata-containers, which is the guest's) go through the share as well: each source is bind-mounted into it
    /// (read-only ones read-only) and the mount's source rewritten to its guest path. With <see cref="RootfsMode.Blk"/>
    /// the directory is packed into an ext4 image in the state directory, hot-plugged, and CreateContainer carries a
    /// <c>blk</c> storage for it (found by its PCI path, mounted at <see cref="RootfsMountPoint"/>); bind mount sources
    /// are passed on as they are (guest paths). The container is created, not started. With
    /// <see cref="ContainerOptions.SandboxPidNamespace"/> it joins the pod's shared PID namespace.
    /// </summary>
    /// <exception cref="ArgumentException">The container id is not a safe name, or is used already.</exception>
    /// <exception cref="DirectoryNotFoundException">The rootfs directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">A bind mount's host source does not exist (virtio-fs).</exception>
    /// <exception cref="ShareException">The rootfs or a volume could not be bound into the share (virtio-fs).</exception>
    /// <exception cref="DiskImageException">The rootfs could not be packed (blk).</exception>
    /// <exception cref="VmException">No free hot-plug slot (blk).</exception>
    /// <exception cref="AgentStatusException">The agent refused (e.g. the disk did not appear within the hot-plug timeout: DEADLINE_EXCEEDED).</exception>
    /// <exception cref="ShareException">Also: the sandbox failed (<see cref="Failure"/>: its virtiofsd died), before or during the call.</exception>
    public async Task<Container> CreateContainerAsync(string containerId, string rootfsDirectory, Spec spec, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = await PrepareContainerAsync(containerId, rootfsDirectory, spec, options?.SandboxPidNamespace ?? false, cancellationToken).ConfigureAwait(false);
        Container container;
        try
        {
            container = await UnlessFailedAsync(_agent.CreateContainerAsync(request, options, cancellationToken)).ConfigureAwait(false);
        }
        catch
        {
            // The agent unmounts the storage of a container it failed to create: the disk's slot is reusable, and
            // nothing in the guest holds the shared rootfs any more.
            await ReleasePreparedRootfsAsync(containerId).ConfigureAwait(false);
            throw;
        }
        return await AdoptAsync(container, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything <see cref="CreateContainerAsync(string, string, Spec, ContainerOptions?, CancellationToken)"/> does
    /// before it asks the agent: the rootfs shared (and the spec's host binds) or packed and plugged, the DNS mount
    /// added, and the CreateContainer request that names them. A pod sends the requests of all its containers in one
    /// CreatePod; <see cref="ReleasePreparedRootfsAsync"/> undoes this when that fails.
    /// </summary>
    internal async Task<CreateContainerRequest> PrepareContainerAsync(string containerId, string rootfsDirectory, Spec spec, bool sandboxPidNamespace, CancellationToken cancellationToken)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(rootfsDirectory);
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfFailed();
        var oci = spec.Clone();
        oci.Root ??= new Root();
        var request = new CreateContainerRequest { ContainerId = containerId, ExecId = containerId, OCI = oci, SandboxPidns = sandboxPidNamespace };
        if (_share is null)
        {
            await PlugRootfsDiskAsync(containerId, rootfsDirectory, request, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            ShareRootfs(_share, containerId, rootfsDirectory, oci);
        }
        AddDnsMount(oci);
        return request;
    }

    /// <summary>Undoes <see cref="PrepareContainerAsync"/> (the agent holds nothing of it), quietly: the caller's error is the one to throw.</summary>
    internal async Task ReleasePreparedRootfsAsync(string containerId)
    {
        if (_share is null)
        {
            await ReleaseDiskQuietlyAsync(containerId).ConfigureAwait(false);
        }
        else
        {
            UnshareQuietly(_share, containerId);
        }
    }

    /// <summary>A handle on a container the agent created in CreatePod (not started), owned by this sandbox and listed as its own.</summary>
    internal async Task<Container> AdoptCreatedAsync(string containerId, ContainerOptions options, CancellationToken cancellationToken)
    {
        var container = await Container.AdoptCreatedAsync(Agent, containerId, options, cancellationToken).ConfigureAwait(false);
        return await AdoptAsync(container, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// StatsContainer for the sandbox itself: the pod's statistics, which in a VM are the whole guest's (the agent
    /// reads the guest's cgroup root, and the kernel's own counters for the memory and tasks the root cgroup does not
    /// keep). Shaped as a container's (cgroup statistics, the guest's interfaces).
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused (an agent without cgroup2: FAILED_PRECONDITION).</exception>
    /// <exception cref="ShareException">The sandbox failed (<see cref="Failure"/>), before or during the call.</exception>
    public async Task<StatsContainerResponse> StatsAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfFailed();
        return await UnlessFailedAsync(_agent.StatsSandboxAsync(Id, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>What kubelet's resolv.conf mount is to a runc container: the pod's DNS, read-only (unless the spec has its own).</summary>
    private void AddDnsMount(Spec oci)
    {
        if (HasDns && !oci.Mounts.Any(m => m.Destination.TrimEnd('/') == "/etc/resolv.conf"))
        {
            oci.Mounts.Add(new Mount { Destination = "/etc/resolv.conf", Source = GuestResolvConfPath, Type = "bind", Options = { "rbind", "ro", "nosuid", "nodev", "noexec" } });
        }
    }

    /// <summary>The blk way: the rootfs packed, plugged, and named by a storage of the request.</summary>
    private async Task PlugRootfsDiskAsync(string containerId, string rootfsDirectory, CreateContainerRequest request, CancellationToken cancellationToken)
    {
        string image = DiskImagePath(containerId);
        if (File.Exists(image))
        {
            throw new ArgumentException($"containerId '{containerId}' is already used in sandbox {Id}", nameof(containerId));
        }
        await Ext4Image.CreateAsync(rootfsDirectory, image, cancellationToken).ConfigureAwait(false);
        string pciPath;
        try
        {
            pciPath = await _vm.AddDiskAsync(new QemuDisk(image), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            File.Delete(image);
            throw;
        }
        string mountPoint = RootfsMountPoint(containerId);
        request.OCI.Root.Path = mountPoint;
        request.Storages.Add(new Storage { Driver = "blk", Source = pciPath, Fstype = "ext4", MountPoint = mountPoint });
    }

    /// <summary>The virtio-fs way: the rootfs and the host-sourced bind mounts bound into the share, the spec pointed at their guest paths.</summary>
    private void ShareRootfs(ISandboxShare share, string containerId, string rootfsDirectory, Spec oci)
    {
        if (share.Has(containerId))
        {
            throw new ArgumentException($"containerId '{containerId}' is already used in sandbox {Id}", nameof(containerId));
        }
        try
        {
            oci.Root.Path = share.ShareRootfs(containerId, rootfsDirectory);
            for (int i = 0; i < oci.Mounts.Count; i++)
            {
                var mount = oci.Mounts[i];
                if (IsHostBind(mount))
                {
                    mount.Source = share.ShareVolume(containerId, mount.Source, mount.Destination, mount.Options.Contains("ro"));
                }
            }
        }
        catch
        {
            UnshareQuietly(share, containerId);
            throw;
        }
    }

    /// <summary>
    /// A bind mount whose source is a host path: absolute and outside /run/kata-containers (below it are the guest's
    /// own paths: storages, the sandbox's resolv.conf, the share itself).
    /// </summary>
    private static bool IsHostBind(Mount mount) =>
        (mount.Type == "bind" || mount.Options.Contains("bind") || mount.Options.Contains("rbind"))
        && mount.Source.StartsWith('/')
        && mount.Source != GuestLayout.RunDirectory
        && !mount.Source.StartsWith(GuestLayout.RunDirectory + "/", StringComparison.Ordinal);

    private static void UnshareQuietly(ISandboxShare share, string containerId)
    {
        try
        {
            share.Unshare(containerId);
        }
        catch (KataAgentException)
        {
            // The caller's error is the one that matters; the sandbox's teardown unmounts the whole share.
        }
    }

    /// <summary>A container the agent created for this sandbox: owned by it and listed, so teardown finds it.</summary>
    private async Task<Container> AdoptAsync(Container container, CancellationToken cancellationToken)
    {
        container.Owner = this;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _containers.Add(container);
        }
        finally
        {
            _gate.Release();
        }
        return container;
    }

    /// <summary>
    /// A handle on container <paramref name="containerId"/> of this sandbox (see <see cref="Container.OpenAsync"/>),
    /// e.g. one a detached sandbox's earlier owner created. Removing it through the handle removes it through
    /// the sandbox (<see cref="RemoveContainerAsync"/>).
    /// </summary>
    public async Task<Container> OpenContainerAsync(string containerId, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ObjectDisposedException.ThrowIf(_finished, this);
        var container = await UnlessFailedAsync(_agent.OpenContainerAsync(containerId, options, cancellationToken)).ConfigureAwait(false);
        container.Owner = this;
        return container;
    }

    /// <summary>
    /// RemoveContainer for <paramref name="containerId"/> (the agent kills its processes, waits up to
    /// <paramref name="timeout"/>, default <see cref="ContainerOptions.RemoveTimeout"/>, and unmounts its disk);
    /// then, once the agent has let go of it and not before, its shared rootfs and volumes are unmounted from the share
    /// (virtio-fs), or its disk is hot-unplugged and its image deleted (blk), if <see cref="CreateContainerAsync"/> made
    /// them, and the agent told to drop its stale submounts of them (RemoveStaleVirtiofsShareMounts, as Kata's runtime
    /// does). <see cref="Container.RemoveAsync"/> on a handle of this sandbox comes here too.
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused (NOT_FOUND: no such container; DEADLINE_EXCEEDED: processes outlived the timeout); the disk or share stays.</exception>
    /// <exception cref="ShareException">A shared rootfs or volume would not unmount on the host; the container is removed.</exception>
    /// <exception cref="VmException">The guest did not release the disk in time (see <see cref="QemuOptions.UnplugTimeout"/>); the container is removed.</exception>
    public Task RemoveContainerAsync(string containerId, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        TimeSpan wait = timeout ?? new ContainerOptions().RemoveTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero, nameof(timeout));
        return RemoveContainerCoreAsync(containerId, wait, cancellationToken);
    }

    Task IContainerOwner.RemoveContainerAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken) =>
        RemoveContainerCoreAsync(containerId, timeout, cancellationToken);

    private async Task RemoveContainerCoreAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        // The agent unmounts the disk in RemoveContainer: unplugging it earlier would pull it from under a mount.
        await UnlessFailedAsync(_agent.RemoveContainerAsync(containerId, timeout, cancellationToken)).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _containers.RemoveAll(c => c.Id == containerId);
        }
        finally
        {
            _gate.Release();
        }
        if (_share is not null && _share.Has(containerId))
        {
            _share.Unshare(containerId);
            // As Kata's runtime does after unsharing: the guest's automatic submounts of what is gone (virtiofsd
            // announces the host's mount points) are dropped, and virtiofsd lets go of what it held for them.
            await UnlessFailedAsync(_agent.RemoveStaleVirtiofsShareMountsAsync(cancellationToken)).ConfigureAwait(false);
        }
        if (File.Exists(DiskImagePath(containerId)))
        {
            await ReleaseDiskAsync(containerId, cancellationToken).ConfigureAwait(false);
        }
        // A container made from an image takes its unpacked rootfs with it, once nothing shares it any more.
        DeleteImageRootfs(containerId);
    }

    private string DiskImagePath(string containerId) => Path.Combine(_vm.StateDirectory, "disks", containerId + ".ext4");

    /// <summary>
    /// Unplugs container <paramref name="containerId"/>'s disk and deletes its image. The disk is found by its image
    /// path in QMP's <c>query-block</c> rather than remembered, so this works for a sandbox attached by another
    /// process, and the image name is unique per container. Skipped while the sandbox is torn down: the VM goes
    /// away with every disk, and the state directory with every image.
    /// </summary>
    private async Task ReleaseDiskAsync(string containerId, CancellationToken cancellationToken)
    {
        if (_tearingDown)
        {
            return;
        }
        string image = DiskImagePath(containerId);
        var disk = (await _vm.QueryDisksAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(d => d.ImagePath == image);
        if (disk is not null)
        {
            await _vm.RemoveDiskAsync(disk.PciPath, cancellationToken).ConfigureAwait(false);
        }
        File.Delete(image);
    }

    private async Task ReleaseDiskQuietlyAsync(string containerId)
    {
        try
        {
            await ReleaseDiskAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (KataAgentException)
        {
            // The caller's error is the one that matters; destroying the sandbox takes the disk with the VM.
        }
    }
}
