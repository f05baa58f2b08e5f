using KataAgent.Agent.Config;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Storage.Drivers;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage;

/// <summary>
/// The storages of CreateSandbox and CreateContainer alike, each mounted by the driver its
/// Storage.driver names (<see cref="StorageDrivers"/>: one class per driver under Drivers/). Every storage of a request is validated before anything touches the filesystem, and mount points
/// must lie under the directory Kata's runtime uses, so a request cannot mount over arbitrary guest
/// paths. Mounts are counted by mount point: containers that name the same storage share one mount,
/// which goes away with its last user unless the storage is <c>shared</c> (then it stays until the
/// sandbox is torn down). The lock is held for bookkeeping and the mount call, never while waiting
/// for a device.
/// </summary>
public sealed class StorageManager
{
    public const string AllowedRoot = GuestLayout.RunDirectory + "/";

    private readonly StorageDriverContext _drivers;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    /// <summary>Mount point → users; insertion order is mount order, so teardown can go in reverse.</summary>
    private readonly List<(string MountPoint, MountEntry Entry)> _mounts = [];

    public StorageManager(AgentConfig config, GuestImages images, ILogger<StorageManager> logger)
        : this(new PciSysfs(config.SysfsRoot), "/dev", config.HotplugTimeout, logger, images)
    {
    }

    public StorageManager(PciSysfs sysfs, string devDirectory, TimeSpan hotplugTimeout, ILogger logger, GuestImages? images = null)
    {
        _drivers = new StorageDriverContext(new BlockDeviceLocator(sysfs, devDirectory, logger), hotplugTimeout, logger, images);
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
            var driver = StorageDrivers.Find(storage.Driver)
                ?? throw AgentException.InvalidArgument($"{at}.driver", $"'{storage.Driver}' is not supported; this agent handles {string.Join(", ", StorageDrivers.All)}");
            string point = storage.MountPoint;
            // One trailing slash is how Kata writes the shared directory (/run/kata-containers/shared/containers/).
            if (!point.StartsWith('/') || point.Contains('\0') || Path.GetFullPath(point).TrimEnd('/') != point.TrimEnd('/'))
            {
                throw AgentException.InvalidArgument($"{at}.mount_point", $"'{point}' is not a normalised absolute path");
            }
            if (!point.StartsWith(AllowedRoot, StringComparison.Ordinal) || point.TrimEnd('/').Length < AllowedRoot.Length)
            {
                throw AgentException.InvalidArgument($"{at}.mount_point", $"'{point}' is not under {AllowedRoot}");
            }
            driver.Validate(storage, at);
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
                entry.Driver.Released(mountPoint, _drivers);
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
                entry.Driver.Released(mountPoint, _drivers);
            }
            _mounts.Clear();
            // Pulled for containers that were never created: nothing holds them but the pull.
            _drivers.Images?.ReleaseAll();
        }
    }

    private async Task MountOneAsync(Protocols.Agent.Storage storage, string at, CancellationToken cancellationToken)
    {
        string mountPoint = Normalise(storage.MountPoint);
        var driver = StorageDrivers.Find(storage.Driver)!;
        // Waiting happens outside the lock: one slow hot-plug must not hold up other requests.
        var mount = await driver.PrepareAsync(storage, at, _drivers, cancellationToken).ConfigureAwait(false);
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
            bool mounted;
            try
            {
                mounted = mount(mountPoint);
            }
            catch when (createdDirectory)
            {
                // A failed mount leaves no directory of ours behind.
                try
                {
                    Directory.Delete(mountPoint);
                }
                catch (IOException)
                {
                }
                throw;
            }
            _mounts.Add((mountPoint, new MountEntry { Driver = driver, Users = 1, Mounted = mounted, Shared = storage.Shared, RemoveDirectory = createdDirectory && driver.RemovesCreatedMountPoint }));
        }
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

    private static string Normalise(string mountPoint) => mountPoint.TrimEnd('/');

    private sealed class MountEntry
    {
        public required IStorageDriver Driver { get; init; }

        public int Users { get; set; }

        public bool Mounted { get; init; }

        public bool Shared { get; init; }

        public bool RemoveDirectory { get; init; }
    }
}
