using System.Diagnostics;
using System.Globalization;
using KataAgent.Agent.Config;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Storage;
using KataAgent.Agent.Storage.Volumes;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Guest.Swap;

/// <summary>
/// AddSwap and AddSwapPath. Kata's runtimes hot-plug a disk (or file) meant as swap and ask the agent to
/// swapon it: AddSwap names a virtio-blk disk by PCI path, AddSwapPath a guest path (runtime-rs sends the
/// /dev node of a disk that has no PCI path). Kata's runtimes run mkswap on the host first; this agent also
/// accepts an area that is all zeros and writes the swap header itself, so no mkswap is needed on either
/// side. An area with a swap signature is used as it is; one holding anything else is refused and left
/// untouched, so a wrong path never costs a filesystem. A disk is opened with O_EXCL, which the kernel
/// refuses while it is mounted or already swap. A file must lie below /run/kata-containers/, be a regular
/// file reached without symlinks and have no holes (swap files cannot).
/// </summary>
public sealed class SwapActivator
{
    private const int ETXTBSY = 26;

    private readonly BlockDeviceLocator _blockDevices;
    private readonly TimeSpan _hotplugTimeout;
    private readonly ILogger _logger;
    private readonly string _allowedRoot;

    public SwapActivator(AgentConfig config, ILogger<SwapActivator> logger)
        : this(new BlockDeviceLocator(new PciSysfs(config.SysfsRoot), "/dev", logger), config.HotplugTimeout, logger)
    {
    }

    public SwapActivator(BlockDeviceLocator blockDevices, TimeSpan hotplugTimeout, ILogger logger, string allowedRoot = VolumePath.AllowedRoot)
    {
        _blockDevices = blockDevices;
        _hotplugTimeout = hotplugTimeout;
        _logger = logger;
        _allowedRoot = allowedRoot;
    }

    /// <summary>AddSwap: waits up to agent.hotplug_timeout for the disk at <paramref name="pciSlots"/> and makes it swap.</summary>
    public async Task AddDeviceAsync(IReadOnlyList<uint> pciSlots, CancellationToken cancellationToken)
    {
        const string field = "PCIPath";
        if (pciSlots.Count == 0)
        {
            throw AgentException.InvalidArgument(field, "is empty; expected the slots from the root bus down, e.g. [16, 0] for 10/00");
        }
        for (int i = 0; i < pciSlots.Count; i++)
        {
            if (pciSlots[i] > PciPath.MaxSlot)
            {
                throw AgentException.InvalidArgument($"{field}[{i}]", $"{pciSlots[i]} is not a PCI slot (0..{PciPath.MaxSlot})");
            }
        }
        string text = string.Join('/', pciSlots.Select(s => s.ToString("x2", CultureInfo.InvariantCulture)));
        if (!PciPath.TryParse(text, out var path, out string? error))
        {
            throw AgentException.InvalidArgument(field, error);
        }
        BlockDevice device;
        try
        {
            var clock = Stopwatch.StartNew();
            device = await _blockDevices.WaitAsync(path, _hotplugTimeout, cancellationToken).ConfigureAwait(false);
            var left = _hotplugTimeout - clock.Elapsed;
            await _blockDevices.WaitUntilOpensAsync(device, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded(field, e.Message);
        }
        Activate(device.DevicePath, isBlockDevice: true, field, $"PCI path {path}");
    }

    /// <summary>AddSwapPath: a block device node directly under /dev, or a file below /run/kata-containers/.</summary>
    public void AddPath(string path)
    {
        const string field = "path";
        if (path.Length == 0)
        {
            throw AgentException.InvalidArgument(field, "is empty");
        }
        string[] components = path.Split('/');
        if (path.StartsWith("/dev/", StringComparison.Ordinal) && components.Length == 3 && components[2] is not ("" or "." or "..") && !path.Contains('\0'))
        {
            int? type = Libc.FileType(path) ?? throw AgentException.NotFound(field, $"{path} does not exist");
            if (type != Libc.S_IFBLK)
            {
                throw AgentException.InvalidArgument(field, $"{path} is not a block device");
            }
            Activate(path, isBlockDevice: true, field, path);
            return;
        }
        if (path.StartsWith('/') && !path.StartsWith(_allowedRoot, StringComparison.Ordinal))
        {
            throw AgentException.InvalidArgument(field, $"'{path}' is neither a block device directly under /dev/ nor a file below {_allowedRoot}");
        }
        string file = VolumePath.Validate(path, field, _allowedRoot);
        int? fileType = Libc.FileType(file) ?? throw AgentException.NotFound(field, $"{file} does not exist");
        if (fileType != Libc.S_IFREG)
        {
            throw AgentException.InvalidArgument(field, $"{file} is not a regular file");
        }
        Activate(file, isBlockDevice: false, field, file);
    }

    /// <summary>Checks the area, writes a header when it is blank, then swapon(2).</summary>
    private unsafe void Activate(string path, bool isBlockDevice, string field, string what)
    {
        int flags = Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NOFOLLOW | (isBlockDevice ? AgentLibc.O_EXCL : 0);
        int fd = Libc.Open(path, flags);
        if (fd < 0)
        {
            var error = LinuxException.FromLastError($"open {path}");
            throw error.Errno switch
            {
                Errno.EBUSY => AgentException.FailedPrecondition(field, $"{path} ({what}) is in use: mounted, or already swap ({error.Message})"),
                ETXTBSY => AgentException.FailedPrecondition(field, $"{path} is already in use as swap ({error.Message})"),
                Errno.ELOOP => AgentException.InvalidArgument(field, $"{path} is a symlink"),
                _ => error,
            };
        }
        bool wroteHeader;
        long size;
        try
        {
            size = isBlockDevice ? DeviceSize(fd, path) : AgentLibc.FStat(fd, $"fstat {path}").Size;
            int pageSize = Environment.SystemPageSize;
            if (size / pageSize < SwapHeader.MinimumPages)
            {
                throw AgentException.FailedPrecondition(field, $"{path} has {size} bytes; a swap area needs at least {SwapHeader.MinimumPages} pages of {pageSize} bytes");
            }
            if (!isBlockDevice)
            {
                long hole = AgentLibc.LSeek(fd, 0, AgentLibc.SEEK_HOLE);
                if (hole >= 0 && hole < size)
                {
                    throw AgentException.FailedPrecondition(field, $"{path} has a hole at byte {hole}; a swap file must be fully allocated (written or fallocated, not truncated to size)");
                }
            }
            byte[] firstPage = new byte[pageSize];
            fixed (byte* p = firstPage)
            {
                nint read = Libc.Check(AgentLibc.PRead(fd, p, (nuint)pageSize, 0), $"read {path}");
                if (read != pageSize)
                {
                    throw AgentException.FailedPrecondition(field, $"{path}: only {read} of the first {pageSize} bytes could be read");
                }
            }
            if (SwapHeader.HasSignature(firstPage))
            {
                wroteHeader = false;
            }
            else if (firstPage.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            {
                byte[] header = SwapHeader.Build(size, pageSize, Guid.NewGuid());
                fixed (byte* p = header)
                {
                    nint written = Libc.Check(AgentLibc.PWrite(fd, p, (nuint)header.Length, 0), $"write the swap header to {path}");
                    if (written != header.Length)
                    {
                        throw AgentException.Internal($"write the swap header to {path}: {written} of {header.Length} bytes written");
                    }
                }
                Libc.Check(AgentLibc.FSync(fd), $"fsync {path}");
                wroteHeader = true;
            }
            else
            {
                throw AgentException.FailedPrecondition(field, $"{path} ({what}) holds data that is not a swap area (no SWAPSPACE2 signature and not blank); refusing to overwrite it");
            }
        }
        finally
        {
            // Closed before swapon: for a disk, our O_EXCL claim would make the kernel's own refuse it.
            Libc.Close(fd);
        }
        if (AgentLibc.SwapOn(path, 0) != 0)
        {
            var error = LinuxException.FromLastError($"swapon {path}");
            throw error.Errno switch
            {
                Errno.EBUSY => AgentException.FailedPrecondition(field, $"{path} is already in use as swap ({error.Message})"),
                Errno.EINVAL => AgentException.FailedPrecondition(field, $"the kernel refused {path} as swap ({error.Message}): its filesystem cannot hold swap files (tmpfs, for one), or the area is unusable"),
                _ => error,
            };
        }
        _logger.LogInformation("swap on {Path} ({What}, {Bytes} bytes{Header})", path, what, size, wroteHeader ? ", header written by the agent" : "");
    }

    private static unsafe long DeviceSize(int fd, string path)
    {
        ulong bytes;
        Libc.Check(Libc.Ioctl(fd, AgentLibc.BLKGETSIZE64, &bytes), $"ioctl(BLKGETSIZE64) {path}");
        return (long)bytes;
    }
}
