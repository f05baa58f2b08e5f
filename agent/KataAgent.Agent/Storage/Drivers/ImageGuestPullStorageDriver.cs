using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary>
/// <c>image_guest_pull</c>, in Kata's shape (its agent's <c>ImagePullHandler</c>): Storage.source is the image
/// reference, driver_options carries <c>image_guest_pull=&lt;JSON {"metadata":{annotations}}&gt;</c>, the mount
/// point is <c>/run/kata-containers/&lt;cid&gt;/rootfs</c> (the container's root.path). The image is pulled inside
/// the guest (by the guest pull helper, onto a tmpfs) and its rootfs bind-mounted there; a rootfs PullImage already
/// pulled for that container (with credentials, a CA, a scratch disk) is taken over instead of pulled again. The
/// sandbox's pause container (annotation container-type "sandbox") pulls nothing, as in Kata: its root is the guest
/// image itself, read-only, and CreateContainer runs the agent's pause mode in it (<see cref="GuestPullSandbox"/>).
/// </summary>
internal sealed class ImageGuestPullStorageDriver : IStorageDriver
{
    /// <summary>Longest image reference accepted (the image library's bound).</summary>
    private const int MaxReferenceLength = 4096;

    public string Name => StorageDrivers.ImageGuestPull;

    public bool RemovesCreatedMountPoint => true;

    public void Validate(Protocols.Agent.Storage storage, string at)
    {
        string source = storage.Source;
        if (source.Length is 0 or > MaxReferenceLength || source.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw AgentException.InvalidArgument($"{at}.source", $"'{source}' is not an image reference (1 to {MaxReferenceLength} characters, no spaces or control characters)");
        }
        if (GuestImages.ContainerIdOf(storage.MountPoint) is null)
        {
            throw AgentException.InvalidArgument($"{at}.mount_point", $"'{storage.MountPoint}' is not a container's rootfs mount point ({GuestLayout.ContainerRootfs("<container id>")})");
        }
        if (storage.Fstype is not ("" or "overlay"))
        {
            throw AgentException.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': an image_guest_pull storage is the pulled rootfs (Kata sends overlay or nothing)");
        }
        GuestPullVolume.Parse(storage.DriverOptions, at);
    }

    public async Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken)
    {
        var images = context.Images ?? throw AgentException.FailedPrecondition($"{at}.driver", GuestPullRunner.NotInImage);
        var volume = GuestPullVolume.Parse(storage.DriverOptions, at);
        string containerId = GuestImages.ContainerIdOf(storage.MountPoint)!;
        if (volume.IsSandbox)
        {
            return mountPoint => MountSandboxRoot(mountPoint);
        }
        var pulled = images.Adopt(containerId, storage.Source, $"{at}.source");
        if (pulled is null)
        {
            // Kata's way: nothing but the reference. Anonymous, the guest's CA bundle, guest memory.
            var request = new Protocols.Guest.ImagePull.GuestPullRequest { Image = storage.Source, StoreDirectory = "/", Rootfs = "/" };
            (pulled, _) = await images.PullAsync(containerId, request, GuestImageStorage.Memory, $"{at}.source", cancellationToken).ConfigureAwait(false);
            pulled.Adopted = true;
        }
        string directory = pulled.Directory;
        return mountPoint =>
        {
            Libc.Check(Libc.Mount(directory, mountPoint, null, Libc.MS_BIND, null), $"bind mount {directory} on {mountPoint}");
            context.Logger.LogInformation("guest-pulled {Image} mounted on {MountPoint}", storage.Source, mountPoint);
            return true;
        };
    }

    public void Released(string mountPoint, StorageDriverContext context)
    {
        if (GuestImages.ContainerIdOf(mountPoint) is { } containerId)
        {
            context.Images?.Release(containerId);
        }
    }

    /// <summary>The guest image's own root, read-only and without its submounts: the pause container runs the agent binary from it.</summary>
    private static bool MountSandboxRoot(string mountPoint)
    {
        Libc.Check(Libc.Mount("/", mountPoint, null, Libc.MS_BIND, null), $"bind mount / on {mountPoint}");
        if (Libc.Mount(null, mountPoint, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null) != 0)
        {
            var error = LinuxException.FromLastError($"remount {mountPoint} read-only");
            Libc.Umount2(mountPoint, Libc.MNT_DETACH);
            throw error;
        }
        return true;
    }
}
