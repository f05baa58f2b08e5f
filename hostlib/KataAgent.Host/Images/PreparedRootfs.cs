using KataAgent.Image.Config;
using KataAgent.Image.Store;

namespace KataAgent.Host.Images;

/// <summary>An image unpacked for one container: the rootfs directory and the process the image (and the caller's overrides) give it.</summary>
/// <param name="Directory">The unpacked rootfs; the caller owns it and deletes it when the container is gone.</param>
/// <param name="Process">Args, environment, working directory and ids for the container's OCI process.</param>
/// <param name="Image">The stored image it was unpacked from.</param>
/// <param name="Warnings">What the unpack could not do exactly as the layers say, though the rootfs is usable (an xattr the filesystem refused), one line each naming the layer and path.</param>
public sealed record PreparedRootfs(string Directory, ImageProcess Process, StoredImage Image, IReadOnlyList<string> Warnings);
