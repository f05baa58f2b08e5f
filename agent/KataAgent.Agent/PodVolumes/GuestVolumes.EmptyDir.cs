using System.Globalization;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// emptyDirs. Memory: a tmpfs of size_limit_bytes. Default with a scratch disk: the disk's ext4 filesystem (formatted
/// on first use), mounted once per pod, and on it, per volume with a size limit, an ext4 image file of its own
/// loop-mounted, so the limit is a filesystem's edge: writes beyond it fail with ENOSPC, whatever the writer's
/// capabilities (ext4 project quotas answer EDQUOT, and CAP_SYS_RESOURCE passes them). Without a limit the volume is a
/// plain directory on the scratch filesystem. Default without a scratch disk: a tmpfs, as Memory.
/// </summary>
internal sealed partial class GuestVolumes
{
    /// <summary>The directory inside an image-backed emptyDir that containers see; the rest holds the slack file.</summary>
    public const string ImageDataDirectory = "data";

    /// <summary>The file that takes up what the image's filesystem has beyond the limit.</summary>
    private const string SlackFile = "size-limit-slack";

    /// <summary>emptyDirs start empty and open to every user, as the kubelet makes them.</summary>
    private const int EmptyDirMode = 0x1FF; // 0777

    private async Task SetUpEmptyDirAsync(VolumeHandle handle, EmptyDirVolume emptyDir, string at, CancellationToken cancellationToken)
    {
        long limit = (long)emptyDir.SizeLimitBytes;
        if (emptyDir.Medium == EmptyDirVolume.Types.Medium.Memory || emptyDir.ScratchPciPath.Length == 0)
        {
            MountTmpfs(handle, limit);
            return;
        }
        var scratch = await AcquireScratchAsync(handle.PodId, emptyDir.ScratchPciPath, $"{at}.scratch_pci_path", cancellationToken).ConfigureAwait(false);
        handle.ScratchKey = scratch.PciPath;
        string podDirectory = Path.Combine(scratch.EmptyDirRoot, handle.PodId);
        Directory.CreateDirectory(podDirectory);
        if (limit == 0)
        {
            string directory = Path.Combine(podDirectory, handle.Name);
            DeleteStale(directory);
            handle.ScratchDirectory = directory;
            Directory.CreateDirectory(directory);
            File.SetUnixFileMode(directory, (UnixFileMode)EmptyDirMode);
            handle.Path = directory;
            return;
        }
        string image = Path.Combine(podDirectory, handle.Name + ".img");
        DeleteStale(image);
        await SetUpImageAsync(handle, image, limit, at, cancellationToken).ConfigureAwait(false);
    }

    private void MountTmpfs(VolumeHandle handle, long limit)
    {
        // size=0 would mean unlimited to tmpfs; no size option gives the kernel's default (half the RAM).
        string data = limit > 0 ? string.Create(CultureInfo.InvariantCulture, $"mode=0777,size={limit}") : "mode=0777";
        Libc.Check(Libc.Mount("tmpfs", handle.MountPoint, "tmpfs", Libc.MS_NODEV, data), $"mount tmpfs ({data}) on {handle.MountPoint}");
        handle.Mounted = true;
        handle.Path = handle.MountPoint;
    }

    /// <summary>
    /// The image is sparse, so it takes scratch space only as the volume fills (discard gives freed blocks back). Its
    /// filesystem's own metadata must not eat into the limit, so the image is made larger than the limit and a slack
    /// file, outside the directory containers see, takes up exactly what is free beyond it: the volume then has the
    /// limit free, to the block.
    /// </summary>
    private async Task SetUpImageAsync(VolumeHandle handle, string image, long limit, string at, CancellationToken cancellationToken)
    {
        _modules?.Load("loop");
        long size = RoundUp(limit + limit / 32 + (8L << 20), DiskIo.BlockSize);
        for (int attempt = 0; ; attempt++)
        {
            handle.ImagePath = image;
            using (var file = new FileStream(image, FileMode.Create, FileAccess.Write))
            {
                file.SetLength(size);
            }
            await _mke2fs.FormatImageAsync(image, cancellationToken).ConfigureAwait(false);
            using (var loop = LoopDevice.Attach(image))
            {
                handle.LoopNumber = loop.Number;
                Libc.Check(Libc.Mount(loop.DevicePath, handle.MountPoint, Filesystem, Libc.MS_NODEV, "discard"), $"mount {loop.DevicePath} ({image}) on {handle.MountPoint}");
                handle.Mounted = true;
            }
            long free = Available(handle.MountPoint);
            if (free >= limit)
            {
                break;
            }
            if (attempt == 2)
            {
                throw AgentException.Internal($"{at}: an ext4 image of {size} bytes has only {free} bytes free, below the limit of {limit}");
            }
            Unmount(handle.MountPoint);
            handle.Mounted = false;
            LoopDevice.DetachIfBoundTo(handle.LoopNumber!.Value, image);
            size = RoundUp(size + 2 * (limit - free), DiskIo.BlockSize);
        }
        // The data directory's own block is the filesystem's, not the volume's: made before the slack is measured.
        string data = Path.Combine(handle.MountPoint, ImageDataDirectory);
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)EmptyDirMode);
        FillSlack(Path.Combine(handle.MountPoint, SlackFile), handle.MountPoint, limit);
        handle.Path = data;
        _logger.LogInformation("emptyDir {Volume}: {Limit} bytes on {Image} (a {Size}-byte sparse image)", handle.Name, limit, image, size);
    }

    /// <summary>
    /// Sizes the slack file so that the filesystem has <paramref name="limit"/> bytes available: allocating it uses a
    /// few blocks of extent metadata too, so it is measured again and corrected until it is exact.
    /// </summary>
    private static void FillSlack(string path, string mountPoint, long limit)
    {
        int fd = Libc.Check(Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC | 0x40 /* O_CREAT */, 0), $"create {path}");
        try
        {
            long slack = 0;
            for (int round = 0; round < 8; round++)
            {
                long excess = Available(mountPoint) - limit;
                if (excess == 0)
                {
                    return;
                }
                slack = Math.Max(0, slack + excess);
                if (excess > 0)
                {
                    Libc.Check(AgentLibc.Fallocate(fd, 0, 0, slack), $"fallocate {path} to {slack} bytes");
                }
                else
                {
                    Libc.Check(AgentLibc.Ftruncate(fd, slack), $"truncate {path} to {slack} bytes");
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Bytes an unprivileged writer may still write (statfs f_bavail: ext4's reserved clusters are not among them).</summary>
    private static unsafe long Available(string mountPoint)
    {
        AgentLibc.StatFs stat;
        Libc.Check(AgentLibc.Statfs(mountPoint, &stat), $"statfs {mountPoint}");
        return (long)stat.BlocksAvailable * stat.BlockSize;
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;

    /// <summary>What a volume of the same name left before a crash (the scratch disk outlives the guest).</summary>
    private static void DeleteStale(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    /// <summary>
    /// The pod's scratch disk, mounted on first use (and formatted ext4 when it holds no filesystem). What a previous
    /// guest left in its emptyDir directory is removed then: emptyDirs never outlive their pod.
    /// </summary>
    private async Task<ScratchDisk> AcquireScratchAsync(string podId, string pciPath, string at, CancellationToken cancellationToken)
    {
        if (_scratchDisks.TryGetValue((podId, pciPath), out var scratch))
        {
            scratch.Users++;
            return scratch;
        }
        var device = await WaitForDiskAsync(pciPath, at, cancellationToken).ConfigureAwait(false);
        string mountPoint = Path.Combine(_root, podId, ".scratch", pciPath.Replace('/', '-'));
        Directory.CreateDirectory(mountPoint);
        try
        {
            if (!DiskIo.HoldsExt4(device.DevicePath))
            {
                if (CryptHeader.IsPresent(DiskIo.Read(device.DevicePath, 0, DiskIo.BlockSize)))
                {
                    throw AgentException.FailedPrecondition(at, $"the disk at PCI path {pciPath} holds an encrypted volume, not scratch space");
                }
                _logger.LogInformation("scratch disk {Device} (PCI path {Path}) holds no filesystem: formatting it ext4", device.DevicePath, pciPath);
                await _mke2fs.FormatDiskAsync(device.DevicePath, "kata-scratch", cancellationToken).ConfigureAwait(false);
            }
            MountExt4(device.DevicePath, mountPoint, readOnly: false, at);
        }
        catch
        {
            TryDelete(() => Directory.Delete(mountPoint), mountPoint);
            throw;
        }
        scratch = new ScratchDisk(pciPath, mountPoint) { Users = 1 };
        try
        {
            DeleteStale(scratch.EmptyDirRoot);
            Directory.CreateDirectory(scratch.EmptyDirRoot);
        }
        catch
        {
            Unmount(mountPoint);
            TryDelete(() => Directory.Delete(mountPoint), mountPoint);
            throw;
        }
        _scratchDisks[(podId, pciPath)] = scratch;
        return scratch;
    }

    private void ReleaseScratch(string podId, string pciPath)
    {
        if (!_scratchDisks.TryGetValue((podId, pciPath), out var scratch) || --scratch.Users > 0)
        {
            return;
        }
        _scratchDisks.Remove((podId, pciPath));
        TryDelete(() => Directory.Delete(Path.Combine(scratch.EmptyDirRoot, podId), recursive: true), scratch.EmptyDirRoot);
        Unmount(scratch.MountPoint);
        TryDelete(() => Directory.Delete(scratch.MountPoint), scratch.MountPoint);
        string parent = Path.GetDirectoryName(scratch.MountPoint)!;
        if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any())
        {
            TryDelete(() => Directory.Delete(parent), parent);
        }
    }
}
