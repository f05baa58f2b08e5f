using System.Text.RegularExpressions;
using KataAgent.Agent.Config;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Processes;
using KataAgent.Agent.Storage;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// The volumes of kataagent.v1 Pods that only the guest mounts: emptyDirs (tmpfs, or the pod's scratch disk with
/// the size limit enforced), block volumes formatted on first use, and block volumes encrypted with dm-crypt
/// through the device-mapper interface. The host hands over raw disks and never sees a filesystem or plaintext.
/// Each volume is mounted at <c>/run/kata-containers/pod-volumes/POD/NAME</c>; docs/PODS.md ("Guest volumes") has
/// the design and its reasons. Operations are serialised: a pod's volumes are set up one after the other anyway.
/// </summary>
internal sealed partial class GuestVolumes
{
    /// <summary>Where pod volumes are mounted: below Kata's run directory, where nothing else of the guest lives.</summary>
    public const string DefaultRoot = GuestLayout.RunDirectory + "/pod-volumes";

    /// <summary>The dm-crypt cipher when VolumeEncryption.cipher is empty, and the only one the guest image carries.</summary>
    public const string DefaultCipher = "aes-xts-plain64";

    /// <summary>The filesystem block volumes get.</summary>
    public const string Filesystem = "ext4";

    private readonly BlockDeviceLocator _blockDevices;
    private readonly TimeSpan _hotplugTimeout;
    private readonly Mke2fs _mke2fs;
    private readonly OnDemandModules? _modules;
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(string Pod, string Name), VolumeHandle> _volumes = [];
    private readonly Dictionary<(string Pod, string PciPath), ScratchDisk> _scratchDisks = [];

    /// <summary>The agent's: devices in /sys and /dev, mke2fs through the reaper, modules from the image.</summary>
    public GuestVolumes(AgentConfig config, ToolRunner tools, ILogger<GuestVolumes> logger)
        : this(new BlockDeviceLocator(new PciSysfs(config.SysfsRoot), "/dev", logger), config.HotplugTimeout, new Mke2fs(tools), new OnDemandModules(logger), logger)
    {
    }

    /// <param name="blockDevices">Finds virtio-blk disks by PCI path.</param>
    /// <param name="hotplugTimeout">How long a disk may take to appear.</param>
    /// <param name="mke2fs">Formats ext4.</param>
    /// <param name="modules">Loads dm-crypt and loop when first needed; null where the kernel has what it has (tests).</param>
    /// <param name="logger">Where set-ups and teardowns are logged.</param>
    /// <param name="root">Where volumes are mounted (<see cref="DefaultRoot"/>; tests use their own).</param>
    internal GuestVolumes(BlockDeviceLocator blockDevices, TimeSpan hotplugTimeout, Mke2fs mke2fs, OnDemandModules? modules, ILogger logger, string root = DefaultRoot)
    {
        _blockDevices = blockDevices;
        _hotplugTimeout = hotplugTimeout;
        _mke2fs = mke2fs;
        _modules = modules;
        _logger = logger;
        _root = root;
    }

    /// <summary>
    /// Sets <paramref name="volume"/> of pod <paramref name="podId"/> up and returns the guest directory that holds it
    /// (what containers' volume mounts bind). Fields are checked first; errors are <c>AgentException</c>s naming
    /// <c><paramref name="at"/>.field</c>. On failure nothing of this volume is left behind. A provided key is wiped
    /// from the request once used.
    /// </summary>
    public async Task<string> SetUpAsync(string podId, PodVolume volume, string at, CancellationToken cancellationToken)
    {
        try
        {
            Validate(podId, volume, at);
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_volumes.ContainsKey((podId, volume.Name)))
                {
                    throw AgentException.AlreadyExists($"{at}.name", $"pod {podId} already has a volume '{volume.Name}'");
                }
                var handle = new VolumeHandle(podId, volume.Name, Path.Combine(_root, podId, volume.Name));
                try
                {
                    Directory.CreateDirectory(handle.MountPoint);
                    if (volume.SourceCase == PodVolume.SourceOneofCase.EmptyDir)
                    {
                        await SetUpEmptyDirAsync(handle, volume.EmptyDir, $"{at}.empty_dir", cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await SetUpBlockAsync(handle, volume.Block, $"{at}.block", cancellationToken).ConfigureAwait(false);
                    }
                }
                catch
                {
                    Release(handle);
                    throw;
                }
                _volumes[(podId, volume.Name)] = handle;
                _logger.LogInformation("pod {Pod}: volume {Volume} ready at {Path}", podId, volume.Name, handle.Path);
                return handle.Path!;
            }
            finally
            {
                _gate.Release();
            }
        }
        finally
        {
            WipeProvidedKey(volume);
        }
    }

    /// <summary>Undoes <see cref="SetUpAsync"/> for one volume: unmounts it, removes its dm-crypt mapping and forgets its key. Idempotent.</summary>
    public async Task TearDownAsync(string podId, string volumeName, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_volumes.Remove((podId, volumeName), out var handle))
            {
                Release(handle);
                _logger.LogInformation("pod {Pod}: volume {Volume} torn down", podId, volumeName);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The names of the volumes pod <paramref name="podId"/> has set up.</summary>
    public IReadOnlyList<string> VolumesOf(string podId)
    {
        _gate.Wait();
        try
        {
            return _volumes.Keys.Where(k => k.Pod == podId).Select(k => k.Name).ToList();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Checks every field of <paramref name="volume"/> without touching anything.</summary>
    public static void Validate(string podId, PodVolume volume, string at)
    {
        if (!PodIdPattern().IsMatch(podId))
        {
            throw AgentException.InvalidArgument("pod_id", $"'{podId}' is not a pod id (letters, digits, '_', '.', '-', at most 128, not starting with '.', '_' or '-')");
        }
        if (!DnsLabelPattern().IsMatch(volume.Name))
        {
            throw AgentException.InvalidArgument($"{at}.name", $"'{volume.Name}' is not a DNS label (lower-case letters, digits and '-', at most 63)");
        }
        switch (volume.SourceCase)
        {
            case PodVolume.SourceOneofCase.EmptyDir:
                var emptyDir = volume.EmptyDir;
                if (emptyDir.Medium is not (EmptyDirVolume.Types.Medium.Default or EmptyDirVolume.Types.Medium.Memory))
                {
                    throw AgentException.InvalidArgument($"{at}.empty_dir.medium", $"{(int)emptyDir.Medium} is not a medium");
                }
                if (emptyDir.SizeLimitBytes > long.MaxValue / 2)
                {
                    throw AgentException.InvalidArgument($"{at}.empty_dir.size_limit_bytes", $"{emptyDir.SizeLimitBytes} is too large");
                }
                if (emptyDir.ScratchPciPath.Length > 0)
                {
                    if (emptyDir.Medium == EmptyDirVolume.Types.Medium.Memory)
                    {
                        throw AgentException.InvalidArgument($"{at}.empty_dir.scratch_pci_path", "a Memory emptyDir lives in guest memory: it takes no scratch disk");
                    }
                    if (!PciPath.TryParse(emptyDir.ScratchPciPath, out _, out string? error))
                    {
                        throw AgentException.InvalidArgument($"{at}.empty_dir.scratch_pci_path", error);
                    }
                }
                break;
            case PodVolume.SourceOneofCase.Block:
                ValidateBlock(volume.Block, $"{at}.block");
                break;
            default:
                throw AgentException.InvalidArgument(at, "sets neither empty_dir nor block");
        }
    }

    private static void ValidateBlock(BlockVolume block, string at)
    {
        if (!PciPath.TryParse(block.PciPath, out _, out string? error))
        {
            throw AgentException.InvalidArgument($"{at}.pci_path", error);
        }
        if (block.FsType is not ("" or Filesystem))
        {
            throw AgentException.InvalidArgument($"{at}.fs_type", $"'{block.FsType}': the guest formats and mounts ext4 only");
        }
        if (block.Encryption is not { } encryption)
        {
            return;
        }
        if (encryption.Cipher is not ("" or DefaultCipher))
        {
            throw AgentException.InvalidArgument($"{at}.encryption.cipher", $"'{encryption.Cipher}': the guest image carries {DefaultCipher} only");
        }
        switch (encryption.KeyCase)
        {
            case VolumeEncryption.KeyOneofCase.Ephemeral:
                if (block.ReadOnly)
                {
                    throw AgentException.InvalidArgument($"{at}.read_only", "an ephemeral key formats the disk afresh: a read-only volume would be empty forever");
                }
                break;
            case VolumeEncryption.KeyOneofCase.Provided:
                if (encryption.Provided.Length is not (32 or 64))
                {
                    throw AgentException.InvalidArgument($"{at}.encryption.provided", $"a key of {encryption.Provided.Length} bytes: {DefaultCipher} takes 32 (AES-128) or 64 (AES-256)");
                }
                break;
            default:
                throw AgentException.InvalidArgument($"{at}.encryption", "sets neither ephemeral nor provided");
        }
    }

    /// <summary>The provided key is the request's only copy we can reach: wipe it in place once it was used (or refused).</summary>
    private static void WipeProvidedKey(PodVolume volume)
    {
        if (volume.SourceCase == PodVolume.SourceOneofCase.Block && volume.Block.Encryption is { KeyCase: VolumeEncryption.KeyOneofCase.Provided } encryption)
        {
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsMemory(encryption.Provided.Memory);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes.Span);
        }
    }

    /// <summary>Undoes whatever of <paramref name="handle"/> exists, last made first; each step tolerates what is gone.</summary>
    private void Release(VolumeHandle handle)
    {
        if (handle.Mounted)
        {
            Unmount(handle.MountPoint);
            handle.Mounted = false;
        }
        if (handle.LoopNumber is { } loop && handle.ImagePath is { } image)
        {
            LoopDevice.DetachIfBoundTo(loop, image);
            handle.LoopNumber = null;
        }
        if (handle.ImagePath is { } imagePath)
        {
            TryDelete(() => File.Delete(imagePath), imagePath);
            handle.ImagePath = null;
        }
        if (handle.ScratchDirectory is { } directory)
        {
            TryDelete(() => Directory.Delete(directory, recursive: true), directory);
            handle.ScratchDirectory = null;
        }
        if (handle.MappingName is { } mapping)
        {
            try
            {
                string outcome = DeviceMapper.Remove(mapping);
                _logger.LogInformation("dm-crypt mapping {Name}: {Outcome}", mapping, outcome);
            }
            catch (Exception e) when (e is IOException or AgentException)
            {
                _logger.LogWarning("removing dm-crypt mapping {Name}: {Error}", mapping, e.Message);
            }
            handle.MappingName = null;
        }
        if (handle.ScratchKey is { } scratch)
        {
            ReleaseScratch(handle.PodId, scratch);
            handle.ScratchKey = null;
        }
        TryDelete(() => Directory.Delete(handle.MountPoint), handle.MountPoint);
        string podDirectory = Path.GetDirectoryName(handle.MountPoint)!;
        if (Directory.Exists(podDirectory) && !Directory.EnumerateFileSystemEntries(podDirectory).Any())
        {
            TryDelete(() => Directory.Delete(podDirectory), podDirectory);
        }
    }

    /// <summary>Unmounts; a mount still in use (a process inside) is detached instead, so teardown never hangs.</summary>
    private void Unmount(string mountPoint)
    {
        if (Libc.Umount2(mountPoint, Libc.UMOUNT_NOFOLLOW) == 0)
        {
            return;
        }
        var error = LinuxException.FromLastError($"umount {mountPoint}");
        if (error.Errno == Errno.EBUSY)
        {
            _logger.LogWarning("{MountPoint} is busy; detaching it (lazy unmount)", mountPoint);
            if (Libc.Umount2(mountPoint, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) != 0)
            {
                _logger.LogWarning("{Error}", LinuxException.FromLastError($"umount -l {mountPoint}").Message);
            }
        }
        else if (error.Errno is not (Errno.EINVAL or Errno.ENOENT))
        {
            _logger.LogWarning("{Error}", error.Message);
        }
    }

    private void TryDelete(Action delete, string path)
    {
        try
        {
            delete();
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("removing {Path}: {Error}", path, e.Message);
        }
    }

    /// <summary>Waits for a hot-plugged disk and its node, as the blk storage driver does.</summary>
    private async Task<BlockDevice> WaitForDiskAsync(string pciPath, string at, CancellationToken cancellationToken)
    {
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var device = await _blockDevices.WaitAsync(PciPath.Parse(pciPath), _hotplugTimeout, cancellationToken).ConfigureAwait(false);
            var left = _hotplugTimeout - clock.Elapsed;
            await _blockDevices.WaitUntilOpensAsync(device, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return device;
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded(at, e.Message);
        }
    }

    /// <summary>Mounts ext4 from <paramref name="device"/>; the kernel's refusal names the volume.</summary>
    private static void MountExt4(string device, string mountPoint, bool readOnly, string at)
    {
        ulong flags = Libc.MS_NODEV | (readOnly ? Libc.MS_RDONLY : 0);
        if (Libc.Mount(device, mountPoint, Filesystem, flags, null) != 0)
        {
            var error = LinuxException.FromLastError($"mount {device} (ext4{(readOnly ? ", ro" : "")}) on {mountPoint}");
            throw error.Errno is Errno.EINVAL or Errno.EIO
                ? AgentException.FailedPrecondition(at, $"{error.Message}: the ext4 filesystem on the disk is damaged")
                : error;
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\z")]
    private static partial Regex PodIdPattern();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\z")]
    private static partial Regex DnsLabelPattern();
}
