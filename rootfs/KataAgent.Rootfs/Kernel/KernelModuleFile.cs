using System.IO.Compression;
using KataAgent.Rootfs.Tools;

namespace KataAgent.Rootfs.Kernel;

/// <summary>
/// Reads a module file as the plain ELF <c>.ko</c> that <c>finit_module</c> takes. Debian's 6.1 cloud kernel ships
/// plain <c>.ko</c> (<c>MODULE_COMPRESS_NONE</c>). <c>.ko.gz</c> is decompressed in-process; <c>.ko.xz</c> and
/// <c>.ko.zst</c> go through the host's <c>xz</c> / <c>zstd</c> when installed, and fail clearly otherwise.
/// </summary>
public static class KernelModuleFile
{
    private static readonly string[] CompressionSuffixes = [".xz", ".zst", ".gz"];

    /// <summary>Whether <paramref name="fileName"/> is a module file: <c>.ko</c>, <c>.ko.xz</c>, <c>.ko.zst</c> or <c>.ko.gz</c>.</summary>
    public static bool IsModuleFile(string fileName) => StripCompressionSuffix(fileName).EndsWith(".ko", StringComparison.Ordinal);

    /// <summary>The path without a compression suffix (<c>x.ko.xz</c> → <c>x.ko</c>).</summary>
    public static string StripCompressionSuffix(string path)
    {
        foreach (string suffix in CompressionSuffixes)
        {
            if (path.EndsWith(".ko" + suffix, StringComparison.Ordinal))
            {
                return path[..^suffix.Length];
            }
        }
        return path;
    }

    /// <summary>The module name a file holds: its base name without <c>.ko*</c>, <c>-</c> turned into <c>_</c>.</summary>
    public static string NameOf(string path)
    {
        string file = Path.GetFileName(StripCompressionSuffix(path));
        return KernelModules.NormalizeName(file.EndsWith(".ko", StringComparison.Ordinal) ? file[..^3] : file);
    }

    /// <summary>The uncompressed module.</summary>
    /// <exception cref="KernelModuleException">A compressed module whose decompressor is not installed.</exception>
    public static async Task<byte[]> ReadAllBytesAsync(string path, CancellationToken cancellationToken = default)
    {
        if (path.EndsWith(".ko", StringComparison.Ordinal))
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        if (path.EndsWith(".ko.gz", StringComparison.Ordinal))
        {
            await using var file = File.OpenRead(path);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var output = new MemoryStream();
            await gzip.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            return output.ToArray();
        }
        string? tool = path.EndsWith(".ko.xz", StringComparison.Ordinal) ? "xz"
            : path.EndsWith(".ko.zst", StringComparison.Ordinal) ? "zstd"
            : null;
        if (tool is null)
        {
            throw new KernelModuleException($"{path} is not a kernel module file (.ko, .ko.gz, .ko.xz, .ko.zst)");
        }
        if (!ExternalTool.IsOnPath(tool))
        {
            throw new KernelModuleException($"{path} is compressed and '{tool}' is not installed to decompress it (apt-get install {(tool == "xz" ? "xz-utils" : "zstd")}), or give a module tree of plain .ko files");
        }
        try
        {
            return await ExternalTool.RunForBytesAsync(tool, ["-dc", "--", path], cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw new KernelModuleException($"could not decompress {path}: {e.Message}", e);
        }
    }
}
