using KataAgent.Agent.Interop;
using KataAgent.Agent.PodVolumes.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// A loop device over an image file, bound with LOOP_CONFIGURE and <c>LO_FLAGS_AUTOCLEAR</c>: the kernel unbinds it
/// when its last opener goes, so once the filesystem on it is mounted and <see cref="Dispose"/> has closed our
/// descriptor, unmounting is all it takes, and a set-up that fails half-way leaves no bound device behind.
/// </summary>
internal sealed class LoopDevice : IDisposable
{
    private const string ControlPath = "/dev/loop-control";
    private const int LoopMajor = 7;
    private int _fd;

    private LoopDevice(string path, int number, int fd)
    {
        DevicePath = path;
        Number = number;
        _fd = fd;
    }

    /// <summary>/dev/loopN.</summary>
    public string DevicePath { get; }

    /// <summary>N.</summary>
    public int Number { get; }

    /// <summary>Binds a free loop device to <paramref name="imagePath"/>. Another process may take the device we were offered first: then the next one is asked for.</summary>
    public static LoopDevice Attach(string imagePath)
    {
        int control = Libc.Open(ControlPath, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (control < 0)
        {
            throw LinuxException.FromLastError($"open {ControlPath} (the loop driver)");
        }
        int backing = -1;
        try
        {
            backing = Libc.Check(Libc.Open(imagePath, Libc.O_RDWR | Libc.O_CLOEXEC), $"open {imagePath}");
            for (int attempt = 0; ; attempt++)
            {
                int number = Libc.Check(Libc.Ioctl(control, AgentLibc.LOOP_CTL_GET_FREE, 0), "LOOP_CTL_GET_FREE");
                string path = $"/dev/loop{number}";
                EnsureNode(path, number);
                int fd = Libc.Check(Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC), $"open {path}");
                int errno = LoopIoctl.Configure(fd, backing, AgentLibc.LO_FLAGS_AUTOCLEAR | AgentLibc.LO_FLAGS_DIRECT_IO);
                if (errno == Errno.EINVAL)
                {
                    // A backing filesystem without O_DIRECT (tmpfs before 6.6): cached I/O then.
                    errno = LoopIoctl.Configure(fd, backing, AgentLibc.LO_FLAGS_AUTOCLEAR);
                }
                if (errno == 0)
                {
                    return new LoopDevice(path, number, fd);
                }
                Libc.Close(fd);
                if (errno != Errno.EBUSY || attempt >= 16)
                {
                    throw new LinuxException($"LOOP_CONFIGURE {path} with {imagePath}", errno);
                }
            }
        }
        finally
        {
            if (backing >= 0)
            {
                Libc.Close(backing);
            }
            Libc.Close(control);
        }
    }

    /// <summary>
    /// Unbinds /dev/loop<paramref name="number"/> if it is still bound to <paramref name="imagePath"/> (after a lazy
    /// unmount, or on a kernel that clears auto-clear devices asynchronously). A device another user has bound since
    /// is left alone.
    /// </summary>
    public static void DetachIfBoundTo(int number, string imagePath)
    {
        string backingFile = $"/sys/block/loop{number}/loop/backing_file";
        string bound;
        try
        {
            bound = File.ReadAllText(backingFile).TrimEnd('\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        if (bound != imagePath && bound != imagePath + " (deleted)")
        {
            return;
        }
        int fd = Libc.Open($"/dev/loop{number}", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return;
        }
        // ENXIO: already unbound; EBUSY: still mounted somewhere (a lazy unmount), auto-clear finishes it then.
        Libc.Ioctl(fd, AgentLibc.LOOP_CLR_FD, 0);
        Libc.Close(fd);
    }

    /// <summary>Closes our descriptor: from now on the mount holds the device, and its unmount unbinds it.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }

    private static void EnsureNode(string path, int number)
    {
        if (Libc.FileType(path) is not null)
        {
            return;
        }
        if (Libc.Mknod(path, (uint)Libc.S_IFBLK | 0x180, Libc.MakeDev(LoopMajor, number)) != 0)
        {
            var error = LinuxException.FromLastError($"mknod {path}");
            if (error.Errno != Errno.EEXIST)
            {
                throw error;
            }
        }
    }
}
