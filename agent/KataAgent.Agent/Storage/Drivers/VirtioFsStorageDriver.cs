using System.Text;
using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Drivers;

/// <summary>
/// <c>virtio-fs</c>: a host directory shared over virtio-fs, mounted by its tag (Storage.source) with the
/// <c>virtiofs</c> filesystem, as Kata's runtime sends it in CreateSandbox:
/// <c>{driver: "virtio-fs", source: "kataShared", fstype: "virtiofs", mount_point: "/run/kata-containers/shared/containers/"}</c>.
/// The options go to mount(2) as they come (flags and filesystem data), except <c>dax</c>: it needs a DAX window on
/// the device, which qemu 7.2's vhost-user-fs-pci cannot have (no cache-size), so the kernel would only answer EINVAL;
/// it is refused up front with the reason (Kata sends it only when its runtime configures a DAX cache). The tag must
/// be there when the request comes (a cold-plugged share, or a hot-plug the host has seen the guest driver take), as
/// with Kata's agent, which does not wait for it either.
/// </summary>
internal sealed class VirtioFsStorageDriver : IStorageDriver
{
    /// <summary>The filesystem type, and what Storage.fstype holds (or leaves empty).</summary>
    public const string Filesystem = "virtiofs";

    /// <summary>virtio_fs_config.tag is 36 bytes.</summary>
    public const int MaxTagBytes = 36;

    public string Name => StorageDrivers.VirtioFs;

    public bool RemovesCreatedMountPoint => true;

    public void Validate(Protocols.Agent.Storage storage, string at)
    {
        string tag = storage.Source;
        if (tag.Length == 0 || Encoding.UTF8.GetByteCount(tag) > MaxTagBytes || tag.Any(char.IsControl))
        {
            throw AgentException.InvalidArgument($"{at}.source", $"'{tag}' is not a virtio-fs tag: 1 to {MaxTagBytes} bytes without control characters");
        }
        if (storage.Fstype is not ("" or Filesystem))
        {
            throw AgentException.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': virtio-fs storage is mounted as {Filesystem}");
        }
        if (storage.Options.FirstOrDefault(o => o is "dax" or "dax=always") is { } dax)
        {
            throw AgentException.InvalidArgument($"{at}.options", $"'{dax}': DAX needs a shared memory window on the virtio-fs device, which qemu 7.2's vhost-user-fs-pci does not have (no cache-size); mount without it");
        }
        var (flags, propagation, _) = MountOptions.Parse(storage.Options);
        if ((flags & (Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_MOVE)) != 0 || propagation != 0)
        {
            throw AgentException.InvalidArgument($"{at}.options", $"'{string.Join(',', storage.Options)}': bind, remount and propagation options do not apply to mounting a virtio-fs share");
        }
    }

    public async Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken)
    {
        // The tag exists only once the virtiofs driver has taken the device: PID 1 loads it after the first answer.
        await DeferredModules.Boot.RequireAsync($"{at} ({Name})", cancellationToken, DeferredModules.ForFilesystem(Filesystem)).ConfigureAwait(false);
        return mountPoint => Mount(storage, mountPoint, at, context.Logger);
    }

    private static bool Mount(Protocols.Agent.Storage storage, string mountPoint, string at, ILogger logger)
    {
        var (flags, _, data) = MountOptions.Parse(storage.Options);
        if (Libc.Mount(storage.Source, mountPoint, Filesystem, flags, data) != 0)
        {
            var error = LinuxException.FromLastError($"mount {Filesystem} {storage.Source}{(data is null ? "" : " (" + data + ")")} on {mountPoint}");
            throw error.Errno switch
            {
                // virtio-fs answers EINVAL for a tag no device has (and for options it does not take).
                Errno.EINVAL => AgentException.InvalidArgument($"{at}.source", $"{error.Message}: no virtio-fs device has the tag '{storage.Source}', or an option in options is not one {Filesystem} accepts"),
                Errno.ENODEV => AgentException.FailedPrecondition($"{at}.fstype", $"{error.Message}: this guest kernel has no {Filesystem} filesystem (the virtiofs module is not loaded)"),
                _ => error,
            };
        }
        logger.LogInformation("mounted virtio-fs tag {Tag} on {MountPoint}", storage.Source, mountPoint);
        return true;
    }
}
