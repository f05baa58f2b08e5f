using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// An eventfd the server signals towards the front-end (a ring's call or err fd). The device signals it from its
/// own threads while the loop thread may replace it (qemu sends new call fds while the rings run): the fd is read
/// once per signal and held by a SafeHandle reference meanwhile, so a replaced fd closes only after the last write
/// to it, and never under one.
/// </summary>
internal sealed class EventNotifier : IDisposable
{
    private SafeFileDescriptor? _fd;

    /// <summary>Whether there is an fd to signal.</summary>
    public bool IsSet => Volatile.Read(ref _fd) is not null;

    /// <summary>Installs <paramref name="fd"/> (null: none) and closes the one before it.</summary>
    public void Replace(SafeFileDescriptor? fd) => Interlocked.Exchange(ref _fd, fd)?.Dispose();

    /// <summary>Adds 1 to the eventfd; false when there is none, it was closed meanwhile, or the write failed.</summary>
    public bool Signal()
    {
        var fd = Volatile.Read(ref _fd);
        if (fd is null)
        {
            return false;
        }
        bool referenced = false;
        try
        {
            fd.DangerousAddRef(ref referenced);
            return Libc.EventFdWrite((int)fd.DangerousGetHandle());
        }
        catch (ObjectDisposedException)
        {
            return false; // replaced under us: whoever replaced it signals the new one
        }
        finally
        {
            if (referenced)
            {
                fd.DangerousRelease();
            }
        }
    }

    public void Dispose() => Replace(null);
}
