using System.IO.Compression;

namespace KataAgent.Rootfs.Compression;

/// <summary>Wraps an output stream in the compressor an <see cref="InitrdCompression"/> names.</summary>
/// <remarks>
/// gzip comes from System.IO.Compression at its smallest-size level; the header carries no name and no
/// timestamp, so the output is reproducible. The default is none: the kernel unpacks a plain cpio fastest (under TCG
/// 0.17 s for the agent's 20 MB image, against 0.48 s for gzip, 0.23–0.59 s for lz4 and 0.58–0.99 s for zstd -19,
/// measured with the host's tools), and the archive's memory is freed after unpacking whatever its compression.
/// </remarks>
public static class InitrdCompressor
{
    /// <summary>A stream that compresses into <paramref name="output"/>; disposing it flushes the compressor and closes <paramref name="output"/>.</summary>
    public static Stream Wrap(Stream output, InitrdCompression compression) => compression switch
    {
        InitrdCompression.None => output,
        InitrdCompression.Gzip => new GZipStream(output, CompressionLevel.SmallestSize),
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, "unknown compression"),
    };

    /// <summary>Parses a compression name: <c>gzip</c> (or <c>gz</c>) or <c>none</c>.</summary>
    public static InitrdCompression Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "gzip" or "gz" => InitrdCompression.Gzip,
        "none" or "cpio" => InitrdCompression.None,
        "lz4" or "zstd" or "xz" or "lzma" or "lzo" or "bzip2" => throw new ArgumentException($"compression '{name}' is not supported: use gzip or none"),
        _ => throw new ArgumentException($"unknown compression '{name}': use gzip or none"),
    };
}
