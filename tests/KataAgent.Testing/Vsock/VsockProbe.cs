using System.Buffers.Binary;

namespace KataAgent.Testing.Vsock;

/// <summary>
/// vsockprobe.c (embedded in this assembly), the vsock VM tests' guest-side tool: a position pattern of any length
/// on stdout, and a guest-initiated vsock connection to the host. Static, so it runs in a busybox container rootfs.
/// </summary>
public static class VsockProbe
{
    private const string SourceResource = "KataAgent.Testing.Vsock.vsockprobe.c";

    /// <summary>What each 8-byte word of the pattern is XORed with.</summary>
    public const ulong PatternKey = 0x5a5a5a5a5a5a5a5aUL;

    /// <summary>Compiles vsockprobe into <paramref name="directory"/>/vsockprobe and returns its path.</summary>
    public static Task<string> CompileAsync(string directory, CancellationToken cancellationToken = default) =>
        StaticProgram.CompileAsync(SourceResource, "vsockprobe", directory, "-O2", cancellationToken);

    /// <summary>The pattern's byte at <paramref name="offset"/>.</summary>
    public static byte PatternByte(long offset)
    {
        ulong word = (ulong)(offset / 8) ^ PatternKey;
        return (byte)(word >> (int)(offset % 8 * 8));
    }

    /// <summary>
    /// Checks <paramref name="data"/> against the pattern from <paramref name="offset"/>; returns the offset of the
    /// first byte that differs, or -1 when all match.
    /// </summary>
    public static long FirstMismatch(ReadOnlySpan<byte> data, long offset)
    {
        int i = 0;
        // Byte by byte up to a word boundary, then word by word, then the tail.
        while (i < data.Length && (offset + i) % 8 != 0)
        {
            if (data[i] != PatternByte(offset + i))
            {
                return offset + i;
            }
            i++;
        }
        while (i + 8 <= data.Length)
        {
            ulong expected = (ulong)((offset + i) / 8) ^ PatternKey;
            if (BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i, 8)) != expected)
            {
                for (int j = 0; j < 8; j++)
                {
                    if (data[i + j] != PatternByte(offset + i + j))
                    {
                        return offset + i + j;
                    }
                }
            }
            i += 8;
        }
        for (; i < data.Length; i++)
        {
            if (data[i] != PatternByte(offset + i))
            {
                return offset + i;
            }
        }
        return -1;
    }
}
