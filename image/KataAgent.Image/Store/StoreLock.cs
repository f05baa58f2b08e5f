using KataAgent.Linux.Interop;

namespace KataAgent.Image.Store;

/// <summary>
/// An flock(2) on a lock file of the store, shared or exclusive, held until disposed. flock locks belong to the open
/// file, so two holders in one process exclude each other exactly as two processes do. Waiting polls with
/// LOCK_NB so that it stays cancellable.
/// </summary>
internal sealed class StoreLock : IDisposable
{
    private const int OCreat = 0x40;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);
    private readonly SafeFileDescriptor _fd;

    private StoreLock(SafeFileDescriptor fd)
    {
        _fd = fd;
    }

    /// <summary>Takes the lock on <paramref name="path"/> (created if absent), waiting for other holders.</summary>
    public static async Task<StoreLock> AcquireAsync(string path, bool exclusive, CancellationToken cancellationToken)
    {
        while (true)
        {
            var held = TryAcquire(path, exclusive);
            if (held is not null)
                return held;
            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lock if no one holds a conflicting one, else returns null at once.</summary>
    public static StoreLock? TryAcquire(string path, bool exclusive)
    {
        // The raw open: FileStream would take its own flock on the file (FileShare), which conflicts with ours.
        var fd = SafeFileDescriptor.Check(Libc.Open(path, Libc.O_RDWR | OCreat | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0x1A4), $"open {path}");
        try
        {
            while (true)
            {
                if (Libc.Flock((int)fd.DangerousGetHandle(), (exclusive ? Libc.LOCK_EX : Libc.LOCK_SH) | Libc.LOCK_NB) == 0)
                    return new StoreLock(fd);
                var error = LinuxException.FromLastError($"flock {path}");
                if (error.Errno == Errno.EINTR)
                    continue;
                if (error.Errno == Errno.EAGAIN)
                {
                    fd.Dispose();
                    return null;
                }
                throw error;
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Releases the lock (closing the file releases it).</summary>
    public void Dispose() => _fd.Dispose();
}
