using Grpc.Core;
using KataAgent.Agent.Config;
using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Server;
using KataAgent.Agent.Devices;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging;
using KataAgent.Protocols.Guest;

namespace KataAgent.Agent.Storage;

/// <summary>
/// The storage handlers, for CreateSandbox and CreateContainer alike: <c>blk</c> (a hot-plugged
/// virtio-blk disk named by its PCI path), <c>ephemeral</c> (tmpfs) and <c>local</c> (a directory).
/// Every storage of a request is validated before anything touches the filesystem, and mount points
/// must lie under the directory Kata's runtime uses, so a request cannot mount over arbitrary guest
/// paths. Mounts are counted by mount point: containers that name the same storage share one mount,
/// which goes away with its last user unless the storage is <c>shared</c> (then it stays until the
/// sandbox is torn down). The lock is held for bookkeeping and the mount call, never while waiting
/// for a device.
/// </summary>
public sealed class StorageManager
{
    public const string AllowedRoot = GuestLayout.RunDirectory + "/";

    /// <summary>Storage.fstype when a blk storage leaves it empty.</summary>
    public const string DefaultBlockFilesystem = "ext4";

    private readonly BlockDeviceLocator _blockDevices;
    private readonly TimeSpan _hotplugTimeout;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    /// <summary>Mount point → users; insertion order is mount order, so teardown can go in reverse.</summary>
    private readonly List<(string MountPoint, MountEntry Entry)> _mounts = [];

    public StorageManager(AgentConfig config, ILogger<StorageManager> logger)
        : this(new PciSysfs(config.SysfsRoot), "/dev", config.HotplugTimeout, logger)
    {
    }

    public StorageManager(PciSysfs sysfs, string devDirectory, TimeSpan hotplugTimeout, ILogger logger)
    {
        _blockDevices = new BlockDeviceLocator(sysfs, devDirectory, logger);
        _hotplugTimeout = hotplugTimeout;
        _logger = logger;
    }

    /// <summary>Mount points currently held, in mount order.</summary>
    public IReadOnlyList<string> MountPoints
    {
        get
        {
            lock (_gate)
            {
                return _mounts.Select(m => m.MountPoint).ToList();
            }
        }
    }

    /// <summary>Checks every storage of a request; throws INVALID_ARGUMENT naming <c>FIELD[i].x</c>.</summary>
    public static void Validate(IReadOnlyList<Protocols.Agent.Storage> storages, string field)
    {
        for (int i = 0; i < storages.Count; i++)
        {
            var storage = storages[i];
            string at = $"{field}[{i}]";
            if (!StorageDrivers.All.Contains(storage.Driver))
            {
                throw RpcErrors.InvalidArgument($"{at}.driver", $"'{storage.Driver}' is not supported; this agent handles {string.Join(", ", StorageDrivers.All)}");
            }
            string point = storage.MountPoint;
            if (!point.StartsWith('/') || point.Contains('\0') || Path.GetFullPath(point) != point.TrimEnd('/'))
            {
                throw RpcErrors.InvalidArgument($"{at}.mount_point", $"'{point}' is not a normalised absolute path");
            }
            if (!point.StartsWith(AllowedRoot, StringComparison.Ordinal) || point.TrimEnd('/').Length < AllowedRoot.Length)
            {
                throw RpcErrors.InvalidArgument($"{at}.mount_point", $"'{point}' is not under {AllowedRoot}");
            }
            switch (storage.Driver)
            {
                case StorageDrivers.Ephemeral when storage.Fstype is not ("" or "tmpfs"):
                    throw RpcErrors.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': ephemeral storage is tmpfs");
                case StorageDrivers.Blk:
                    ValidateBlock(storage, at);
                    break;
            }
        }
    }

    /// <summary>
    /// Mounts (or creates) every storage, in order, all or nothing: on a failure the ones done are
    /// released again. Returns the mount points to <see cref="Release"/> later.
    /// </summary>
    public async Task<IReadOnlyList<string>> MountAsync(IReadOnlyList<Protocols.Agent.Storage> storages, string field, CancellationToken cancellationToken)
    {
        Validate(storages, field);
        var done = new List<string>();
        try
        {
            for (int i = 0; i < storages.Count; i++)
            {
                await MountOneAsync(storages[i], $"{field}[{i}]", cancellationToken).ConfigureAwait(false);
                done.Add(Normalise(storages[i].MountPoint));
            }
            return done;
        }
        catch
        {
            Release(done);
            throw;
        }
    }

    /// <summary>Drops one use of each mount point; the last use unmounts it unless it is shared (or <paramref name="includingShared"/>).</summary>
    public void Release(IEnumerable<string> mountPoints, bool includingShared = false)
    {
        foreach (string mountPoint in mountPoints.Reverse())
        {
            lock (_gate)
            {
                int index = _mounts.FindLastIndex(m => m.MountPoint == mountPoint);
                if (index < 0)
                {
                    continue;
                }
                var entry = _mounts[index].Entry;
                entry.Users--;
                if (entry.Users > 0 || (entry.Shared && !includingShared))
                {
                    continue;
                }
                _mounts.RemoveAt(index);
                if (entry.Mounted)
                {
                    Unmount(mountPoint, entry.RemoveDirectory);
                }
            }
        }
    }

    /// <summary>Unmounts everything, newest first (sandbox teardown, shutdown).</summary>
    public void UnmountAll()
    {
        lock (_gate)
        {
            for (int i = _mounts.Count - 1; i >= 0; i--)
            {
                var (mountPoint, entry) = _mounts[i];
                if (entry.Mounted)
                {
                    Unmount(mountPoint, entry.RemoveDirectory);
                }
            }
            _mounts.Clear();
        }
    }

    private async Task MountOneAsync(Protocols.Agent.Storage storage, string at, CancellationToken cancellationToken)
    {
        string mountPoint = Normalise(storage.MountPoint);
        BlockDevice? device = null;
        if (storage.Driver == StorageDrivers.Blk)
        {
            // Waiting happens outside the lock: one slow hot-plug must not hold up other requests.
            var path = PciPath.Parse(storage.Source);
            try
            {
                device = await _blockDevices.WaitAsync(path, _hotplugTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"{at}.source: {e.Message}"));
            }
        }
        lock (_gate)
        {
            int index = _mounts.FindLastIndex(m => m.MountPoint == mountPoint);
            if (index >= 0)
            {
                _mounts[index].Entry.Users++;
                return;
            }
            bool createdDirectory = !Directory.Exists(mountPoint);
            Directory.CreateDirectory(mountPoint);
            bool mounted = storage.Driver switch
            {
                StorageDrivers.Blk => MountBlock(storage, device!, mountPoint, at),
                StorageDrivers.Ephemeral => MountTmpfs(storage, mountPoint),
                _ => PrepareLocal(storage, mountPoint),
            };
            _mounts.Add((mountPoint, new MountEntry { Users = 1, Mounted = mounted, Shared = storage.Shared, RemoveDirectory = createdDirectory && storage.Driver == StorageDrivers.Blk }));
        }
    }

    private bool MountBlock(Protocols.Agent.Storage storage, BlockDevice device, string mountPoint, string at)
    {
        string fstype = storage.Fstype.Length > 0 ? storage.Fstype : DefaultBlockFilesystem;
        var (flags, _, data) = MountOptions.Parse(storage.Options);
        if (Libc.Mount(device.DevicePath, mountPoint, fstype, flags, data) != 0)
        {
            var error = LinuxException.FromLastError($"mount {device.DevicePath} ({fstype}{(data is null ? "" : ", " + data)}) on {mountPoint}");
            throw error.Errno switch
            {
                Errno.ENODEV => RpcErrors.InvalidArgument($"{at}.fstype", $"'{fstype}' is not a filesystem type this kernel knows ({error.Message})"),
                Errno.EINVAL => RpcErrors.InvalidArgument(at, $"{error.Message}: the disk holds no {fstype} filesystem, or an option in options is not one {fstype} accepts"),
                _ => error,
            };
        }
        _logger.LogInformation("mounted {Device} ({Source}, {Fstype}) on {MountPoint}", device.DevicePath, "PCI path " + storage.Source, fstype, mountPoint);
        return true;
    }

    private static bool MountTmpfs(Protocols.Agent.Storage storage, string mountPoint)
    {
        var (flags, _, data) = MountOptions.Parse(storage.Options);
        Libc.Check(Libc.Mount(storage.Source.Length > 0 ? storage.Source : "tmpfs", mountPoint, "tmpfs", flags, data), $"mount tmpfs on {mountPoint}");
        return true;
    }

    private static bool PrepareLocal(Protocols.Agent.Storage storage, string mountPoint)
    {
        foreach (string option in storage.Options)
        {
            if (option.StartsWith("mode=", StringComparison.Ordinal))
            {
                File.SetUnixFileMode(mountPoint, (UnixFileMode)Convert.ToInt32(option[5..], 8));
            }
        }
        if (storage.FsGroup is { } group)
        {
            Libc.Check(Libc.Chown(mountPoint, uint.MaxValue, group.GroupId), $"chown {mountPoint}");
        }
        return false;
    }

    /// <summary>Unmounts; a mount still in use (a process inside, an open file) is detached instead, so teardown never hangs.</summary>
    private void Unmount(string mountPoint, bool removeDirectory)
    {
        if (Libc.Umount2(mountPoint, 0) != 0)
        {
            var error = LinuxException.FromLastError($"umount {mountPoint}");
            if (error.Errno == Errno.EBUSY)
            {
                _logger.LogWarning("{MountPoint} is busy; detaching it (lazy unmount)", mountPoint);
                if (Libc.Umount2(mountPoint, Libc.MNT_DETACH) != 0)
                {
                    _logger.LogWarning("{Error}", LinuxException.FromLastError($"umount -l {mountPoint}").Message);
                }
            }
            else if (error.Errno is not (Errno.EINVAL or Errno.ENOENT))
            {
                _logger.LogWarning("{Error}", error.Message);
            }
        }
        if (removeDirectory)
        {
            try
            {
                Directory.Delete(mountPoint);
            }
            catch (IOException)
            {
                // Not empty or still a mount point: leave it.
            }
        }
    }

    private static void ValidateBlock(Protocols.Agent.Storage storage, string at)
    {
        if (!PciPath.TryParse(storage.Source, out _, out string? error))
        {
            throw RpcErrors.InvalidArgument($"{at}.source", error);
        }
        if (storage.Fstype.Length > 0 && !IsFilesystemName(storage.Fstype))
        {
            throw RpcErrors.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}' is not a filesystem type name");
        }
        var (flags, propagation, _) = MountOptions.Parse(storage.Options);
        if ((flags & (Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_MOVE)) != 0 || propagation != 0)
        {
            throw RpcErrors.InvalidArgument($"{at}.options", $"'{string.Join(',', storage.Options)}': bind, remount and propagation options do not apply to mounting a disk");
        }
    }

    private static string Normalise(string mountPoint) => mountPoint.TrimEnd('/');

    /// <summary>Kernel filesystem type names: ext4, xfs, fuse.sshfs, 9p …</summary>
    private static bool IsFilesystemName(string name) =>
        name.Length <= 32 && name[0] is (>= 'a' and <= 'z') or (>= '0' and <= '9')
        && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '+' or '-');

    private sealed class MountEntry
    {
        public int Users { get; set; }

        public bool Mounted { get; init; }

        public bool Shared { get; init; }

        public bool RemoveDirectory { get; init; }
    }
}
