using System.Diagnostics;
using System.Globalization;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage;

/// <summary>
/// Waits for the block device under a PCI device (virtio-blk: …/0000:01:00.0/virtioN/block/vdX) and
/// makes sure its device node exists. Hot-plug is asynchronous: the host's device_add returns before
/// the guest has enumerated the device and bound its driver, so sysfs is polled until the deadline.
/// Once, half-way, the PCI buses are rescanned: a guest that missed the hot-plug interrupt (an ACPI
/// or PCIe-native hotplug race) finds the device that way. Sysfs and /dev roots are injectable so
/// tests can build a fake tree.
/// </summary>
public sealed class BlockDeviceLocator(PciSysfs sysfs, string devDirectory, ILogger logger)
{
    /// <summary>How often sysfs is looked at while waiting: short against the seconds a hot-plug takes.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The device's block device, waiting up to <paramref name="timeout"/>; throws
    /// <see cref="TimeoutException"/> naming the PCI path, the timeout and what was missing.
    /// </summary>
    public async Task<BlockDevice> WaitAsync(PciPath path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // No virtio-blk disk shows up before its driver is in the kernel: PID 1 loads it after the first answer.
        await DeferredModules.Boot.RequireAsync($"the disk at PCI path {path}", cancellationToken, DeferredModules.VirtioBlk).ConfigureAwait(false);
        bool rescanned = false;
        while (true)
        {
            var device = TryFind(path, out string missing);
            if (device is not null)
            {
                return EnsureNode(device);
            }
            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"no block device appeared for PCI path {path} within {Seconds(timeout)} (missing: {missing})");
            }
            if (!rescanned && clock.Elapsed >= timeout / 2)
            {
                rescanned = true;
                try
                {
                    sysfs.Rescan();
                    logger.LogInformation("PCI path {Path}: no block device after {Elapsed:0.0} s; rescanned the PCI buses", path, clock.Elapsed.TotalSeconds);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    logger.LogWarning("PCI path {Path}: rescan through {File} failed: {Error}", path, sysfs.RescanFile, e.Message);
                }
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits, up to <paramref name="timeout"/>, until <paramref name="device"/>'s node opens. The kernel publishes a
    /// hot-plugged disk in sysfs (its <c>dev</c> attribute, hence our node) a moment before it registers the block
    /// device itself; an open in between fails with ENXIO, and so would a mount (seen under TCG on a loaded host).
    /// Any other error is left for the mount to report. Throws <see cref="TimeoutException"/> when it never opens.
    /// </summary>
    public async Task WaitUntilOpensAsync(BlockDevice device, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int fd = Libc.Open(device.DevicePath, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
            if (fd >= 0)
            {
                Libc.Close(fd);
                return;
            }
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Errno.ENXIO)
            {
                return;
            }
            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"block device {device.DevicePath} ({device.Major}:{device.Minor}) did not open within {Seconds(timeout)} (ENXIO: the kernel has not registered it yet)");
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The block device under the PCI device, or null (with what is missing) when it is not there yet.</summary>
    public BlockDevice? TryFind(PciPath path, out string missing)
    {
        string? pciDevice = sysfs.FindDevice(path, out string? missingPci);
        if (pciDevice is null)
        {
            missing = missingPci!;
            return null;
        }
        // virtio-pci binds a virtioN child; virtio-blk puts the disk under its block/ directory.
        foreach (string virtio in Directory.EnumerateDirectories(pciDevice, "virtio*"))
        {
            string blockDirectory = Path.Combine(virtio, "block");
            if (!Directory.Exists(blockDirectory))
            {
                continue;
            }
            foreach (string disk in Directory.EnumerateDirectories(blockDirectory))
            {
                if (ReadDeviceNumber(Path.Combine(disk, "dev")) is { } number)
                {
                    string name = Path.GetFileName(disk);
                    missing = "";
                    return new BlockDevice(name, number.Major, number.Minor, Path.Combine(devDirectory, name));
                }
            }
        }
        missing = $"{pciDevice}/virtio*/block/*/dev";
        return null;
    }

    /// <summary>devtmpfs makes the node when the disk appears; without it (or before it) make it from sysfs' major:minor.</summary>
    private BlockDevice EnsureNode(BlockDevice device)
    {
        int? type = Libc.FileType(device.DevicePath);
        if (type == Libc.S_IFBLK)
        {
            return device;
        }
        if (type is not null)
        {
            throw new IOException($"{device.DevicePath} exists and is not a block device");
        }
        if (Libc.Mknod(device.DevicePath, (uint)Libc.S_IFBLK | 0x180 /* 0600 */, Libc.MakeDev(device.Major, device.Minor)) != 0)
        {
            var error = LinuxException.FromLastError($"mknod {device.DevicePath} ({device.Major}:{device.Minor})");
            if (error.Errno != Errno.EEXIST)
            {
                throw error;
            }
        }
        return device;
    }

    private static (int Major, int Minor)? ReadDeviceNumber(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        int colon = text.IndexOf(':');
        return colon > 0
            && int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int major)
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int minor)
            ? (major, minor)
            : null;
    }

    private static string Seconds(TimeSpan timeout) =>
        timeout.TotalSeconds >= 1 ? $"{timeout.TotalSeconds:0.###} s" : $"{timeout.TotalMilliseconds:0} ms";
}
