using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary>
/// <c>blk</c>: a hot-plugged virtio-blk disk named by its PCI path (Storage.source), mounted with its
/// filesystem (Storage.fstype, ext4 when empty). The wait for the disk happens outside the storage
/// manager's lock, so one slow hot-plug does not hold up other requests.
/// </summary>
internal sealed class BlkStorageDriver : IStorageDriver
{
    /// <summary>Storage.fstype when a blk storage leaves it empty.</summary>
    public const string DefaultFilesystem = "ext4";

    public string Name => StorageDrivers.Blk;

    public bool RemovesCreatedMountPoint => true;

    public void Validate(Protocols.Agent.Storage storage, string at)
    {
        if (!PciPath.TryParse(storage.Source, out _, out string? error))
        {
            throw AgentException.InvalidArgument($"{at}.source", error);
        }
        if (storage.Fstype.Length > 0 && !IsFilesystemName(storage.Fstype))
        {
            throw AgentException.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}' is not a filesystem type name");
        }
        var (flags, propagation, _) = MountOptions.Parse(storage.Options);
        if ((flags & (Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_MOVE)) != 0 || propagation != 0)
        {
            throw AgentException.InvalidArgument($"{at}.options", $"'{string.Join(',', storage.Options)}': bind, remount and propagation options do not apply to mounting a disk");
        }
    }

    public async Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken)
    {
        var path = PciPath.Parse(storage.Source);
        BlockDevice device;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            device = await context.BlockDevices.WaitAsync(path, context.HotplugTimeout, cancellationToken).ConfigureAwait(false);
            var left = context.HotplugTimeout - clock.Elapsed;
            await context.BlockDevices.WaitUntilOpensAsync(device, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded($"{at}.source", e.Message);
        }
        return mountPoint => Mount(storage, device, mountPoint, at, context.Logger);
    }

    /// <summary>The kernel's refusals that mean the request was wrong name the field; others are the guest's.</summary>
    private static bool Mount(Protocols.Agent.Storage storage, BlockDevice device, string mountPoint, string at, ILogger logger)
    {
        string fstype = storage.Fstype.Length > 0 ? storage.Fstype : DefaultFilesystem;
        var (flags, _, data) = MountOptions.Parse(storage.Options);
        if (Libc.Mount(device.DevicePath, mountPoint, fstype, flags, data) != 0)
        {
            var error = LinuxException.FromLastError($"mount {device.DevicePath} ({fstype}{(data is null ? "" : ", " + data)}) on {mountPoint}");
            throw error.Errno switch
            {
                Errno.ENODEV => AgentException.InvalidArgument($"{at}.fstype", $"'{fstype}' is not a filesystem type this kernel knows ({error.Message})"),
                Errno.EINVAL => AgentException.InvalidArgument(at, $"{error.Message}: the disk holds no {fstype} filesystem, or an option in options is not one {fstype} accepts"),
                _ => error,
            };
        }
        logger.LogInformation("mounted {Device} ({Source}, {Fstype}) on {MountPoint}", device.DevicePath, "PCI path " + storage.Source, fstype, mountPoint);
        return true;
    }

    /// <summary>Kernel filesystem type names: ext4, xfs, fuse.sshfs, 9p …</summary>
    private static bool IsFilesystemName(string name) =>
        name.Length <= 32 && name[0] is (>= 'a' and <= 'z') or (>= '0' and <= '9')
        && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '+' or '-');
}
