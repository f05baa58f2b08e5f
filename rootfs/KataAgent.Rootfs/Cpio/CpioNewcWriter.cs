using System.Buffers;
using System.Text;

namespace KataAgent.Rootfs.Cpio;

/// <summary>
/// Writes a cpio archive in the SVR4 "newc" format (magic <c>070701</c>, no checksum), the format the
/// Linux kernel unpacks as an initramfs. Each entry is a 110-byte ASCII header of thirteen 8-digit
/// upper-case hex fields, the NUL-terminated name padded so that header plus name is a multiple of 4,
/// then the data padded to a multiple of 4. The archive ends with a <c>TRAILER!!!</c> entry.
/// </summary>
/// <remarks>
/// Every entry gets uid/gid 0, the same modification time and device number 0, and inode numbers count
/// up from 0 in write order: the output is byte-for-byte what GNU <c>cpio -o -H newc --reproducible
/// --owner=0:0</c> writes for the same tree when its files carry that mtime. Names are written without a
/// leading <c>/</c> or <c>./</c>. Hard links are not supported (every entry has its own inode).
/// </remarks>
public sealed class CpioNewcWriter : IDisposable
{
    /// <summary>File type bits of <c>st_mode</c>.</summary>
    public const int TypeDirectory = 0x4000, TypeRegular = 0x8000, TypeSymlink = 0xA000, TypeCharDevice = 0x2000, TypeBlockDevice = 0x6000;

    /// <summary>The size of a newc header in bytes.</summary>
    public const int HeaderSize = 110;

    /// <summary>The name of the entry that ends an archive.</summary>
    public const string TrailerName = "TRAILER!!!";

    private const int PermissionMask = 0xFFF; // 07777: permissions plus setuid/setgid/sticky
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly uint _mtime;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private uint _nextInode;
    private bool _finished;

    /// <param name="output">Where the archive goes (written sequentially; need not be seekable).</param>
    /// <param name="modificationTime">The mtime of every entry, seconds since the epoch.</param>
    /// <param name="leaveOpen">Leave <paramref name="output"/> open on <see cref="Dispose"/>.</param>
    public CpioNewcWriter(Stream output, long modificationTime = 0, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (modificationTime is < 0 or > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(modificationTime), modificationTime, "a newc mtime is 32 bits, unsigned");
        }
        _output = output;
        _leaveOpen = leaveOpen;
        _mtime = (uint)modificationTime;
    }

    /// <summary>Bytes written so far (the uncompressed archive size once <see cref="Finish"/> ran).</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Entries written so far, the trailer not counted.</summary>
    public int EntryCount { get; private set; }

    /// <summary>Adds a directory. <paramref name="linkCount"/> is 2 plus its number of subdirectories, as stat reports it.</summary>
    public void AddDirectory(string name, int permissions = 0x1ED /* 0755 */, int linkCount = 2) =>
        WriteHeader(name, TypeDirectory | (permissions & PermissionMask), (uint)linkCount, 0, 0, 0);

    /// <summary>Adds a regular file with the given content.</summary>
    public void AddFile(string name, ReadOnlySpan<byte> content, int permissions = 0x1A4 /* 0644 */)
    {
        WriteHeader(name, TypeRegular | (permissions & PermissionMask), 1, checked((uint)content.Length), 0, 0);
        Write(content);
        WritePadding(content.Length);
    }

    /// <summary>Adds a regular file whose content is read from <paramref name="content"/>, exactly <paramref name="length"/> bytes.</summary>
    public void AddFile(string name, Stream content, long length, int permissions = 0x1A4 /* 0644 */)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (length is < 0 or > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"'{name}': a newc entry holds at most 4 GiB");
        }
        WriteHeader(name, TypeRegular | (permissions & PermissionMask), 1, (uint)length, 0, 0);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long remaining = length;
            while (remaining > 0)
            {
                int read = content.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                if (read == 0)
                {
                    throw new EndOfStreamException($"'{name}': the content ended {remaining} bytes short of the {length} announced");
                }
                Write(buffer.AsSpan(0, read));
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        WritePadding(length);
    }

    /// <summary>Adds a regular file copied from the host file <paramref name="hostPath"/>.</summary>
    public void AddFileFrom(string name, string hostPath, int permissions = 0x1A4 /* 0644 */)
    {
        using var stream = new FileStream(hostPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        AddFile(name, stream, stream.Length, permissions);
    }

    /// <summary>Adds a symbolic link; its data is the target text (no NUL).</summary>
    public void AddSymlink(string name, string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        byte[] bytes = Encoding.UTF8.GetBytes(target);
        WriteHeader(name, TypeSymlink | 0x1FF /* 0777 */, 1, (uint)bytes.Length, 0, 0);
        Write(bytes);
        WritePadding(bytes.Length);
    }

    /// <summary>Adds a character device node (e.g. <c>dev/console</c> 5:1).</summary>
    public void AddCharacterDevice(string name, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        AddDevice(name, TypeCharDevice, major, minor, permissions);

    /// <summary>Adds a block device node.</summary>
    public void AddBlockDevice(string name, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        AddDevice(name, TypeBlockDevice, major, minor, permissions);

    /// <summary>
    /// Writes the trailer and, if <paramref name="blockSize"/> is positive, zero-pads the archive to a multiple of
    /// it (GNU cpio pads to 512; the kernel skips the zeros). Further additions fail.
    /// </summary>
    public void Finish(int blockSize = 512)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        WriteRawHeader(TrailerName, 0, 0, 1, 0, 0, 0, 0);
        if (blockSize > 0 && BytesWritten % blockSize != 0)
        {
            WriteZeros((int)(blockSize - BytesWritten % blockSize));
        }
        _output.Flush();
    }

    /// <summary>Disposes the output stream unless the writer was told to leave it open. Does not write the trailer.</summary>
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _output.Dispose();
        }
    }

    /// <summary>The name as it is stored: no leading <c>/</c> or <c>./</c>, no empty, <c>.</c> or <c>..</c> components.</summary>
    public static string NormalizeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == "." || name == "/")
        {
            return ".";
        }
        string[] parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var kept = new List<string>(parts.Length);
        foreach (string part in parts)
        {
            if (part == "." && kept.Count == 0)
            {
                continue;
            }
            if (part is "." or ".." || part.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{name}' is not a valid archive path: no '.', '..' or NUL inside", nameof(name));
            }
            kept.Add(part);
        }
        if (kept.Count == 0)
        {
            throw new ArgumentException($"'{name}' is not a valid archive path", nameof(name));
        }
        return string.Join('/', kept);
    }

    private void AddDevice(string name, int type, int major, int minor, int permissions)
    {
        if (major < 0 || minor < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(major), $"'{name}': device numbers are non-negative");
        }
        WriteHeader(name, type | (permissions & PermissionMask), 1, 0, (uint)major, (uint)minor);
    }

    private void WriteHeader(string name, int mode, uint linkCount, uint fileSize, uint rdevMajor, uint rdevMinor)
    {
        if (_finished)
        {
            throw new InvalidOperationException("the archive is finished: nothing can follow its trailer");
        }
        string stored = NormalizeName(name);
        if (stored == TrailerName)
        {
            throw new ArgumentException($"'{TrailerName}' is reserved for the end of the archive", nameof(name));
        }
        if (!_names.Add(stored))
        {
            throw new ArgumentException($"'{stored}' is already in the archive", nameof(name));
        }
        WriteRawHeader(stored, _nextInode++, (uint)mode, linkCount, _mtime, fileSize, rdevMajor, rdevMinor);
        EntryCount++;
    }

    private void WriteRawHeader(string name, uint inode, uint mode, uint linkCount, uint mtime, uint fileSize, uint rdevMajor, uint rdevMinor)
    {
        int nameLength = Encoding.UTF8.GetByteCount(name) + 1;
        Span<byte> header = stackalloc byte[HeaderSize];
        "070701"u8.CopyTo(header);
        int at = 6;
        foreach (uint field in (ReadOnlySpan<uint>)[inode, mode, 0 /* uid */, 0 /* gid */, linkCount, mtime, fileSize,
                     0 /* devmajor */, 0 /* devminor */, rdevMajor, rdevMinor, (uint)nameLength, 0 /* check */])
        {
            field.TryFormat(header.Slice(at, 8), out _, "X8");
            at += 8;
        }
        Write(header);
        byte[] nameBytes = new byte[nameLength];
        Encoding.UTF8.GetBytes(name, nameBytes);
        Write(nameBytes);
        WritePadding(HeaderSize + nameLength);
    }

    private void WritePadding(long length)
    {
        int padding = (int)((4 - length % 4) % 4);
        if (padding > 0)
        {
            WriteZeros(padding);
        }
    }

    private void WriteZeros(int count)
    {
        Span<byte> zeros = stackalloc byte[512];
        zeros.Clear();
        while (count > 0)
        {
            int n = Math.Min(count, zeros.Length);
            Write(zeros[..n]);
            count -= n;
        }
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _output.Write(bytes);
        BytesWritten += bytes.Length;
    }
}
