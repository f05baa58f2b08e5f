using System.IO.Compression;
using KataAgent.Image.Manifests;
using ZstdSharp;

namespace KataAgent.Image.Layers;

/// <summary>A layer blob's uncompressed tar stream, by its media type: tar, tar+gzip, tar+zstd (OCI and Docker names).</summary>
internal static class LayerDecompression
{
    private static readonly byte[] GzipMagic = [0x1F, 0x8B];
    private static readonly byte[] ZstdMagic = [0x28, 0xB5, 0x2F, 0xFD];

    /// <summary>The compression <paramref name="mediaType"/> names; <see cref="ImageErrorKind.Unsupported"/> for a type that is no layer we apply.</summary>
    public static LayerCompression CompressionOf(string mediaType) => mediaType switch
    {
        MediaTypes.OciLayerTar or MediaTypes.OciLayerNondistributableTar => LayerCompression.None,
        MediaTypes.OciLayerGzip or MediaTypes.OciLayerNondistributableGzip
            or MediaTypes.DockerLayerGzip or MediaTypes.DockerForeignLayerGzip => LayerCompression.Gzip,
        MediaTypes.OciLayerZstd or MediaTypes.OciLayerNondistributableZstd => LayerCompression.Zstd,
        _ => throw new ImageException(ImageErrorKind.Unsupported,
            $"layer media type '{mediaType}' is not one this library applies (tar, tar+gzip, tar+zstd)"),
    };

    /// <summary>
    /// Wraps <paramref name="blob"/> (owned: disposed with the result) in the decompressor its media type names.
    /// A blob whose first bytes are not that format's magic is <see cref="ImageErrorKind.InvalidInput"/>.
    /// </summary>
    public static Stream Open(Stream blob, string mediaType)
    {
        var compression = CompressionOf(mediaType);
        if (compression == LayerCompression.None)
            return blob;
        var buffered = blob;
        var magic = compression == LayerCompression.Gzip ? GzipMagic : ZstdMagic;
        Span<byte> head = stackalloc byte[4];
        int read = PeekStart(buffered, head[..magic.Length], out var restored);
        if (read < magic.Length || !head[..magic.Length].SequenceEqual(magic))
        {
            restored.Dispose();
            throw new ImageException(ImageErrorKind.InvalidInput,
                $"the layer is labelled {mediaType} but its content does not start with the {compression} magic bytes");
        }
        return compression == LayerCompression.Gzip
            ? new GZipStream(restored, CompressionMode.Decompress, leaveOpen: false)
            : new DecompressionStream(restored, leaveOpen: false);
    }

    // Reads the first bytes and hands back a stream that still begins with them (blobs need not be seekable).
    private static int PeekStart(Stream stream, Span<byte> head, out Stream restored)
    {
        int total = 0;
        while (total < head.Length)
        {
            int n = stream.Read(head[total..]);
            if (n == 0)
                break;
            total += n;
        }
        restored = new PrefixedStream(head[..total].ToArray(), stream);
        return total;
    }
}
