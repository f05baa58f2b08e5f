using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Storage;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;
using KataAgent.Protocols.Guest.ImagePull;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Images;

/// <summary>
/// The rootfs directories guest pull made, by container id. A pull goes to guest storage under Kata's work
/// directory (/run/kata-containers/image/): its own tmpfs (<c>mem/&lt;cid&gt;</c>, store and rootfs; the store is
/// emptied once the rootfs is unpacked, so guest memory holds the image once) or a scratch disk the host formatted
/// as ext4 and hot-plugged (<c>disk/&lt;slot&gt;-&lt;fn&gt;</c>, mounted once and shared by its pulls: the store
/// there keeps layers for the next pull of the same image; rootfs under <c>rootfs/&lt;cid&gt;</c>). The
/// image_guest_pull storage driver bind-mounts the rootfs on the container's mount point and, when the container
/// goes, <see cref="Release"/> frees its storage. Ids and paths were validated by the caller; every path built here
/// is a fixed directory plus a validated id.
/// </summary>
public sealed class GuestImages
{
    private readonly GuestPullRunner _runner;
    private readonly BlockDeviceLocator _blockDevices;
    private readonly TimeSpan _hotplugTimeout;
    private readonly ILogger _logger;
    private readonly string _workDirectory;
    private readonly object _gate = new();
    private readonly Dictionary<string, PulledRootfs?> _pulled = new(StringComparer.Ordinal);
    /// <summary>Scratch disk mount point → pulls on it.</summary>
    private readonly Dictionary<string, int> _diskUsers = new(StringComparer.Ordinal);

    private readonly string? _registryAuth;

    internal GuestImages(GuestPullRunner runner, BlockDeviceLocator blockDevices, TimeSpan hotplugTimeout, ILogger logger, string workDirectory = GuestPullHelper.WorkDirectory, string? registryAuth = null)
    {
        _registryAuth = registryAuth;
        _runner = runner;
        _blockDevices = blockDevices;
        _hotplugTimeout = hotplugTimeout;
        _logger = logger;
        _workDirectory = workDirectory;
    }

    /// <summary>The helper runner (whether guest pull is in this guest image).</summary>
    internal GuestPullRunner Runner => _runner;

    /// <summary>
    /// Pulls <paramref name="request"/>'s image for <paramref name="containerId"/> onto <paramref name="storage"/>:
    /// the store and rootfs paths of the request are set here. ALREADY_EXISTS when that container has a pulled
    /// rootfs (or a pull under way).
    /// </summary>
    internal async Task<(PulledRootfs Rootfs, GuestPullResult Result)> PullAsync(string containerId, GuestPullRequest request, GuestImageStorage storage, string imageField, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_pulled.TryAdd(containerId, null))
            {
                throw AgentException.AlreadyExists("container_id", $"an image is already pulled (or being pulled) for container '{containerId}'");
            }
        }
        PulledRootfs? pulled = null;
        try
        {
            if (request.Credentials is null && _registryAuth is not null)
            {
                // Kata's agent.image_registry_auth: credentials for a pull that brings none (Kata's own path never does).
                request = request with { RegistryAuthFile = RegistryAuthSetting.FileOf(_registryAuth) };
            }
            pulled = await PrepareStorageAsync(containerId, request.Image, storage, cancellationToken).ConfigureAwait(false);
            string store = StoreOf(pulled);
            var result = await _runner.PullAsync(request with { StoreDirectory = store, Rootfs = pulled.Directory }, imageField, cancellationToken).ConfigureAwait(false);
            if (pulled.MemoryMount is not null)
            {
                // The layers were for unpacking: guest memory keeps the image once, as its rootfs.
                DeleteTree(store);
            }
            lock (_gate)
            {
                _pulled[containerId] = pulled;
            }
            _logger.LogInformation("guest pull: {Image} for container {Id} unpacked at {Rootfs}", request.Image, containerId, pulled.Directory);
            return (pulled, result);
        }
        catch
        {
            if (pulled is not null)
            {
                FreeStorage(pulled);
            }
            lock (_gate)
            {
                _pulled.Remove(containerId);
            }
            throw;
        }
    }

    /// <summary>
    /// The pulled rootfs of <paramref name="containerId"/> for the image_guest_pull storage to take over: the one
    /// PullImage made (it must be for <paramref name="image"/>), else null.
    /// </summary>
    internal PulledRootfs? Adopt(string containerId, string image, string field)
    {
        lock (_gate)
        {
            if (!_pulled.TryGetValue(containerId, out var pulled))
            {
                return null;
            }
            if (pulled is null)
            {
                throw AgentException.FailedPrecondition(field, $"PullImage for container '{containerId}' is still running");
            }
            if (pulled.Image != image)
            {
                throw AgentException.InvalidArgument(field, $"'{image}' is not the image PullImage pulled for container '{containerId}' ('{pulled.Image}')");
            }
            if (pulled.Adopted)
            {
                throw AgentException.AlreadyExists(field, $"the pulled rootfs of container '{containerId}' is already in use");
            }
            pulled.Adopted = true;
            return pulled;
        }
    }

    /// <summary>Frees <paramref name="containerId"/>'s pulled rootfs and its storage (its bind mount is gone by now).</summary>
    public void Release(string containerId)
    {
        PulledRootfs? pulled;
        lock (_gate)
        {
            if (!_pulled.TryGetValue(containerId, out pulled) || pulled is null)
            {
                return;
            }
            _pulled.Remove(containerId);
        }
        FreeStorage(pulled);
        _logger.LogInformation("guest pull: the rootfs of container {Id} is freed", containerId);
    }

    /// <summary>Frees every pulled rootfs (sandbox teardown, shutdown).</summary>
    public void ReleaseAll()
    {
        string[] ids;
        lock (_gate)
        {
            ids = _pulled.Where(p => p.Value is not null).Select(p => p.Key).ToArray();
        }
        foreach (string id in ids)
        {
            Release(id);
        }
    }

    private async Task<PulledRootfs> PrepareStorageAsync(string containerId, string image, GuestImageStorage storage, CancellationToken cancellationToken)
    {
        // Neither nosuid nor nodev: the container's rootfs is a bind mount of this one and its setuid binaries
        // must work as they would on containerd's snapshot.
        if (storage.PciPath is null)
        {
            string mount = Path.Combine(_workDirectory, "mem", containerId);
            Directory.CreateDirectory(mount);
            string data = storage.MemoryLimitMiB > 0 ? $"mode=0700,size={storage.MemoryLimitMiB}m" : "mode=0700";
            if (Libc.Mount("kata-image", mount, "tmpfs", 0, data) != 0)
            {
                var error = LinuxException.FromLastError($"mount tmpfs on {mount}");
                TryRemoveDirectory(mount);
                throw error;
            }
            return new PulledRootfs(containerId, image, Path.Combine(mount, "rootfs"), mount, null);
        }
        string diskMount = await MountDiskAsync(storage.PciPath, cancellationToken).ConfigureAwait(false);
        string rootfs = Path.Combine(diskMount, "rootfs", containerId);
        if (Directory.Exists(rootfs))
        {
            // Left by an earlier VM that used the same disk: not ours to keep.
            DeleteTree(rootfs);
        }
        return new PulledRootfs(containerId, image, rootfs, null, diskMount);
    }

    private async Task<string> MountDiskAsync(string pciPathText, CancellationToken cancellationToken)
    {
        var pciPath = PciPath.Parse(pciPathText);
        string mount = Path.Combine(_workDirectory, "disk", pciPathText.Replace('/', '-'));
        lock (_gate)
        {
            if (_diskUsers.TryGetValue(mount, out int users))
            {
                _diskUsers[mount] = users + 1;
                return mount;
            }
        }
        BlockDevice device;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            device = await _blockDevices.WaitAsync(pciPath, _hotplugTimeout, cancellationToken).ConfigureAwait(false);
            var left = _hotplugTimeout - clock.Elapsed;
            await _blockDevices.WaitUntilOpensAsync(device, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded("storage.block.pci_path", e.Message);
        }
        lock (_gate)
        {
            if (_diskUsers.TryGetValue(mount, out int users))
            {
                _diskUsers[mount] = users + 1;
                return mount;
            }
            Directory.CreateDirectory(mount);
            if (Libc.Mount(device.DevicePath, mount, "ext4", 0, null) != 0)
            {
                var error = LinuxException.FromLastError($"mount {device.DevicePath} (ext4) on {mount}");
                TryRemoveDirectory(mount);
                throw error.Errno is Errno.EINVAL or Errno.ENODEV
                    ? AgentException.InvalidArgument("storage.block.pci_path", $"{error.Message}: the disk at PCI path {pciPathText} holds no ext4 filesystem (the host formats the scratch disk)")
                    : error;
            }
            _diskUsers[mount] = 1;
            _logger.LogInformation("guest pull: scratch disk {Device} (PCI path {Path}) mounted on {Mount}", device.DevicePath, pciPathText, mount);
            return mount;
        }
    }

    private static string StoreOf(PulledRootfs pulled) => Path.Combine(pulled.MemoryMount ?? pulled.DiskMount!, "store");

    private void FreeStorage(PulledRootfs pulled)
    {
        if (pulled.MemoryMount is { } memory)
        {
            Unmount(memory);
            TryRemoveDirectory(memory);
            return;
        }
        string disk = pulled.DiskMount!;
        DeleteTree(pulled.Directory);
        lock (_gate)
        {
            if (!_diskUsers.TryGetValue(disk, out int users))
            {
                return;
            }
            if (users > 1)
            {
                _diskUsers[disk] = users - 1;
                return;
            }
            _diskUsers.Remove(disk);
        }
        Unmount(disk);
        TryRemoveDirectory(disk);
    }

    private void Unmount(string path)
    {
        if (Libc.Umount2(path, 0) != 0 && Libc.Umount2(path, Libc.MNT_DETACH) != 0)
        {
            _logger.LogWarning("{Error}", LinuxException.FromLastError($"umount {path}").Message);
        }
    }

    /// <summary>Deletes a tree without following links (an image's symlinks point anywhere in the guest).</summary>
    private void DeleteTree(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("guest pull: cannot remove {Path}: {Error}", path, e.Message);
        }
    }

    private static void TryRemoveDirectory(string path)
    {
        try
        {
            Directory.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The container id of Kata's rootfs mount point <c>/run/kata-containers/&lt;cid&gt;/rootfs</c>, or null when it is not one.</summary>
    public static string? ContainerIdOf(string mountPoint)
    {
        string prefix = GuestLayout.RunDirectory + "/";
        const string suffix = "/rootfs";
        string point = mountPoint.TrimEnd('/');
        if (!point.StartsWith(prefix, StringComparison.Ordinal) || !point.EndsWith(suffix, StringComparison.Ordinal) || point.Length <= prefix.Length + suffix.Length)
        {
            return null;
        }
        string id = point[prefix.Length..^suffix.Length];
        return Protocols.ContainerIds.Problem(id) is null && GuestLayout.ContainerRootfs(id) == point ? id : null;
    }
}
