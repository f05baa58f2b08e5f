using System.Globalization;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Agent.PodVolumes.Interop;
using KataAgent.Agent.Storage;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// dm-crypt mappings made through the device-mapper ioctls (no cryptsetup, no libdevmapper, no udev): DM_DEV_CREATE,
/// DM_TABLE_LOAD of one <c>crypt</c> target, DM_DEV_SUSPEND without the suspend flag (which activates the loaded
/// table), and DM_DEV_REMOVE. The key goes into the table as hex written straight into the native ioctl buffer,
/// never into a managed string, with DM_SECURE_DATA_FLAG so the kernel wipes its copies too.
/// </summary>
internal static class DeviceMapper
{
    private const string ControlPath = "/dev/mapper/control";
    private const string ControlSysfs = "/sys/class/misc/device-mapper/dev";

    /// <summary>
    /// Maps <paramref name="sectors"/> sectors of <paramref name="device"/> from <paramref name="offsetSectors"/> on
    /// through <paramref name="cipher"/> with <paramref name="key"/> as device <paramref name="name"/>; returns the
    /// mapping's block device; sector n of the mapping is encrypted with IV n + <paramref name="ivOffset"/>. On failure
    /// nothing of it is left.
    /// </summary>
    public static BlockDevice CreateCrypt(string name, string cipher, ReadOnlySpan<byte> key, BlockDevice device, long offsetSectors, long sectors, bool readOnly, ulong ivOffset = 0)
    {
        int control = OpenControl();
        byte[] parameters = CryptParameters(cipher, key, device, offsetSectors, ivOffset);
        try
        {
            DmIoctl.Run(control, DmIoctl.DevCreate, name, 0);
            try
            {
                DmIoctl.Run(control, DmIoctl.TableLoad, name, DmIoctl.SecureDataFlag | (readOnly ? DmIoctl.ReadOnlyFlag : 0), ("crypt", (ulong)sectors, parameters));
                var (major, minor) = DmIoctl.Run(control, DmIoctl.DevSuspend, name, 0);
                return EnsureNode(new BlockDevice($"dm-{minor}", major, minor, $"/dev/dm-{minor}"));
            }
            catch
            {
                TryRemove(control, name);
                throw;
            }
        }
        finally
        {
            Array.Clear(parameters);
            Libc.Close(control);
        }
    }

    /// <summary>True when a mapping named <paramref name="name"/> exists.</summary>
    public static bool Exists(string name)
    {
        if (!File.Exists(ControlPath) && !File.Exists(ControlSysfs))
        {
            return false;
        }
        int control = OpenControl();
        try
        {
            DmIoctl.Run(control, DmIoctl.DevStatus, name, 0);
            return true;
        }
        catch (LinuxException e) when (e.Errno == Errno.ENXIO)
        {
            return false;
        }
        finally
        {
            Libc.Close(control);
        }
    }

    /// <summary>
    /// Removes mapping <paramref name="name"/> (which wipes its key in the kernel); a missing one is fine. A mapping
    /// still open (a lazily unmounted filesystem) is removed when its last user closes it. Returns what happened.
    /// </summary>
    public static string Remove(string name)
    {
        if (!File.Exists(ControlPath) && !File.Exists(ControlSysfs))
        {
            return "no device-mapper";
        }
        int control = OpenControl();
        try
        {
            return TryRemove(control, name);
        }
        finally
        {
            Libc.Close(control);
        }
    }

    private static string TryRemove(int control, string name)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                DmIoctl.Run(control, DmIoctl.DevRemove, name, 0);
                return "removed";
            }
            catch (LinuxException e) when (e.Errno == Errno.ENXIO)
            {
                return "absent";
            }
            catch (LinuxException e) when (e.Errno == Errno.EBUSY)
            {
                // An unmount's last reference can be dropped a moment after umount returns.
                Thread.Sleep(25);
            }
        }
        DmIoctl.Run(control, DmIoctl.DevRemove, name, DmIoctl.DeferredRemoveFlag);
        return "deferred (still open)";
    }

    /// <summary>"cipher hexkey iv_offset major:minor offset" as bytes; the caller clears them.</summary>
    private static byte[] CryptParameters(string cipher, ReadOnlySpan<byte> key, BlockDevice device, long offsetSectors, ulong ivOffset)
    {
        string head = cipher + " ";
        string tail = string.Create(CultureInfo.InvariantCulture, $" {ivOffset} {device.Major}:{device.Minor} {offsetSectors}");
        // Pinned, so the collector never leaves a copy of the key behind when it compacts.
        byte[] parameters = GC.AllocateArray<byte>(head.Length + key.Length * 2 + tail.Length, pinned: true);
        int at = 0;
        foreach (char c in head)
        {
            parameters[at++] = (byte)c;
        }
        foreach (byte b in key)
        {
            parameters[at++] = Hex(b >> 4);
            parameters[at++] = Hex(b & 0xF);
        }
        foreach (char c in tail)
        {
            parameters[at++] = (byte)c;
        }
        return parameters;

        static byte Hex(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
    }

    private static int OpenControl()
    {
        int fd = Libc.Open(ControlPath, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            return fd;
        }
        var error = LinuxException.FromLastError($"open {ControlPath}");
        if (error.Errno != Errno.ENOENT)
        {
            throw error;
        }
        // No devtmpfs node (yet): make it from sysfs, as udev would.
        string[] number;
        try
        {
            number = File.ReadAllText(ControlSysfs).Trim().Split(':');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AgentException.FailedPrecondition(null, $"this guest kernel has no device-mapper ({ControlPath} and {ControlSysfs} are missing; the dm_mod module is not loaded)");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(ControlPath)!);
        if (Libc.Mknod(ControlPath, 0x2000 /* S_IFCHR */ | 0x180, Libc.MakeDev(int.Parse(number[0], CultureInfo.InvariantCulture), int.Parse(number[1], CultureInfo.InvariantCulture))) != 0)
        {
            var mknod = LinuxException.FromLastError($"mknod {ControlPath}");
            if (mknod.Errno != Errno.EEXIST)
            {
                throw mknod;
            }
        }
        return Libc.Check(Libc.Open(ControlPath, Libc.O_RDWR | Libc.O_CLOEXEC), $"open {ControlPath}");
    }

    /// <summary>devtmpfs makes /dev/dm-N as the device is added; without devtmpfs the node is made here.</summary>
    private static BlockDevice EnsureNode(BlockDevice device)
    {
        if (Libc.FileType(device.DevicePath) == Libc.S_IFBLK)
        {
            return device;
        }
        if (Libc.Mknod(device.DevicePath, (uint)Libc.S_IFBLK | 0x180, Libc.MakeDev(device.Major, device.Minor)) != 0)
        {
            var error = LinuxException.FromLastError($"mknod {device.DevicePath}");
            if (error.Errno != Errno.EEXIST)
            {
                throw error;
            }
        }
        return device;
    }
}
