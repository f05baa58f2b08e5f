using KataAgent.Linux.Interop;

namespace KataAgent.Host.Checkpoints;

/// <summary>
/// Copies a disk image: a reflink (FICLONE: the copy shares the blocks until either side writes) where the
/// filesystem can, otherwise a sparse copy that leaves the all-zero blocks of the source as holes.
/// </summary>
internal static class DiskCopy
{
    /// <summary>_IOW(0x94, 9, int): clone the whole of the source file into the destination.</summary>
    private const ulong FICLONE = 0x40049409;

    private const int Block = 64 * 1024;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> (created; must not exist). Returns whether it was reflinked.</summary>
    public static async Task<bool> CopyAsync(string source, string destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var from = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
        using (var to = File.OpenHandle(destination, FileMode.CreateNew, FileAccess.Write))
        {
            if (TryClone(from, to))
            {
                progress?.Report(RandomAccess.GetLength(from));
                return true;
            }
        }
        long length = RandomAccess.GetLength(from);
        await using (var output = new FileStream(destination, FileMode.Open, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
        {
            var buffer = new byte[Block];
            long offset = 0;
            while (offset < length)
            {
                int n = await RandomAccess.ReadAsync(from, buffer, offset, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                if (!buffer.AsSpan(0, n).ContainsAnyExcept((byte)0))
                {
                    // A hole: nothing written, the length set at the end.
                    offset += n;
                    continue;
                }
                output.Position = offset;
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                offset += n;
                progress?.Report(offset);
            }
            output.SetLength(length);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        progress?.Report(length);
        return false;
    }

    private static unsafe bool TryClone(Microsoft.Win32.SafeHandles.SafeFileHandle from, Microsoft.Win32.SafeHandles.SafeFileHandle to)
    {
        // EOPNOTSUPP, EXDEV, EINVAL: not here; the caller copies instead.
        return Libc.Ioctl((int)to.DangerousGetHandle(), FICLONE, from.DangerousGetHandle()) == 0;
    }
}
