using KataAgent.Image.Pull;
using KataAgent.Image.Store;

namespace KataAgent.Image.Layers;

/// <summary>
/// Unpacks a stored image's layers, base first, into one directory (the flattened variant of reference
/// vm-io-imagepull.md §3.4): tar, tar+gzip and tar+zstd; whiteouts and opaque directories performed as deletions of
/// lower content; hardlinks, symlinks, device nodes, fifos, ownership, modes, mtimes and xattrs. Every entry is
/// resolved inside the target without following symlinks, so no entry (<c>..</c>, absolute names, symlinked
/// parents, hardlinks to outside) can write or link outside it: such a layer is refused with
/// <see cref="ImageErrorKind.PathEscape"/>. Each layer's uncompressed bytes are checked against the config's diff_id.
/// </summary>
public static class LayerUnpacker
{
    /// <summary>
    /// Unpacks <paramref name="image"/> from <paramref name="store"/> into <paramref name="rootfsDirectory"/>, which
    /// must be empty or absent. On failure the directory is removed, so nothing is left half-unpacked.
    /// </summary>
    public static Task UnpackAsync(
        ContentStore store,
        StoredImage image,
        string rootfsDirectory,
        IProgress<PullProgress>? progress,
        CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam: layer application is being written");
}
