using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.SharedFs;
using KataAgent.Image;
using KataAgent.Protocols;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>Where containers made from images get their unpacked rootfs, inside the state directory.</summary>
    public const string ImageRootfsDirectoryName = "image-rootfs";

    /// <summary>
    /// Creates container <paramref name="containerId"/> from the stored image <paramref name="image"/> (a reference, a
    /// manifest digest or a unique prefix of its hex; pull or load it first, e.g. with <see cref="HostImages.EnsureAsync"/>):
    /// the image is unpacked into the sandbox's state directory (<see cref="ImageRootfsPath"/>), its config's process
    /// (with <see cref="ImageContainerOptions.Overrides"/>) put into the spec, and the rootfs given to the container as
    /// <see cref="CreateContainerAsync(string, string, KataAgent.Protocols.Agent.Spec, ContainerOptions?, CancellationToken)"/>
    /// gives any directory: shared over virtio-fs (the container writes into its own unpacked copy) or packed onto a
    /// hot-plugged ext4 disk (blk; the unpacked copy is deleted once packed). The unpacked rootfs is deleted when the
    /// container is removed, or with the sandbox's state. The container is created, not started.
    /// </summary>
    /// <exception cref="ImageException">The image is not stored (NotFound), a layer would escape or does not match its
    /// diff_id, the image's user is unknown, or it has no command and none was given.</exception>
    /// <exception cref="ArgumentException">The container id is not a safe name, or is used already.</exception>
    /// <exception cref="KataAgentException">As the directory form: sharing, packing or the agent failed.</exception>
    public async Task<Container> CreateContainerFromImageAsync(string containerId, HostImages images, string image, ImageContainerOptions? imageOptions = null, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(image);
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfFailed();
        imageOptions ??= new ImageContainerOptions();
        var (directory, spec) = await UnpackImageAsync(containerId, images, image, imageOptions, cancellationToken).ConfigureAwait(false);
        Container container;
        try
        {
            container = await CreateContainerAsync(containerId, directory, spec, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            DeleteImageRootfsQuietly(containerId);
            throw;
        }
        if (_share is null)
        {
            // The disk image holds the rootfs now: the unpacked copy would only take room.
            DeleteImageRootfsQuietly(containerId);
        }
        return container;
    }

    /// <summary>
    /// The image unpacked into <see cref="ImageRootfsPath"/> and the container's spec built from its process
    /// (<see cref="ContainerSpecs.Default(IReadOnlyList{string}, bool)"/>, the process put in, then the caller's
    /// <see cref="ImageContainerOptions.EditSpec"/>). On failure the unpacked directory is gone again.
    /// </summary>
    internal async Task<(string Directory, Spec Spec)> UnpackImageAsync(string containerId, HostImages images, string image, ImageContainerOptions imageOptions, CancellationToken cancellationToken)
    {
        string directory = ImageRootfsPath(containerId);
        if (Directory.Exists(directory))
        {
            throw new ArgumentException($"containerId '{containerId}' is already used in sandbox {Id}", nameof(containerId));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(directory)!);
        try
        {
            var prepared = await images.PrepareRootfsAsync(image, directory, imageOptions.Overrides, imageOptions.Progress, cancellationToken).ConfigureAwait(false);
            var spec = ContainerSpecs.ApplyImageProcess(ContainerSpecs.Default(prepared.Process.Args, imageOptions.Terminal), prepared.Process);
            imageOptions.EditSpec?.Invoke(spec);
            return (directory, spec);
        }
        catch
        {
            DeleteImageRootfsQuietly(containerId);
            throw;
        }
    }

    /// <summary>After the rootfs is packed onto a disk (blk), the unpacked copy only takes room; with virtio-fs it is the container's rootfs.</summary>
    internal void DropUnpackedCopyIfPacked(string containerId)
    {
        if (_share is null)
        {
            DeleteImageRootfsQuietly(containerId);
        }
    }

    /// <summary>Deletes a container's unpacked image rootfs (after its share is gone), quietly.</summary>
    internal void DeleteUnpackedImage(string containerId) => DeleteImageRootfsQuietly(containerId);

    /// <summary>The directory a container made from an image gets its unpacked rootfs in (<c>image-rootfs/ID</c> in the state directory).</summary>
    public string ImageRootfsPath(string containerId)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        return Path.Combine(_vm.StateDirectory, ImageRootfsDirectoryName, containerId);
    }

    /// <summary>Deletes a container's unpacked image rootfs, if it has one (after its share is gone: never through a mount).</summary>
    private void DeleteImageRootfs(string containerId)
    {
        string directory = Path.Combine(_vm.StateDirectory, ImageRootfsDirectoryName, containerId);
        if (Directory.Exists(directory))
        {
            HostImages.DeleteRootfs(directory);
        }
    }

    private void DeleteImageRootfsQuietly(string containerId)
    {
        try
        {
            DeleteImageRootfs(containerId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KataAgentException)
        {
            // The caller's error is the one that matters; the sandbox's state goes with its teardown.
        }
    }
}
