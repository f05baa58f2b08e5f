using System.Text;

namespace KataAgent.Host.Vm;

/// <summary>
/// A host directory shared into the guest over virtio-fs: a <c>vhost-user-fs-pci</c> device whose backend is a
/// virtiofsd of its own (see <see cref="QemuOptions.SharedDirectories"/> and <see cref="QemuVm.AddSharedDirectoryAsync"/>).
/// The guest mounts it by its tag: <c>mount -t virtiofs TAG DIR</c>, or the agent's <c>virtio-fs</c> storage driver.
/// </summary>
/// <param name="Tag">The name the guest mounts it by (Kata's is <c>kataShared</c>): 1 to <see cref="MaxTagBytes"/>
/// ASCII letters, digits, '-', '_' or '.', starting with a letter or digit. It also names the device, its socket and its
/// log in the state directory, so it is unique within a VM.</param>
/// <param name="HostPath">The directory on the host; it must exist when virtiofsd starts.</param>
/// <param name="ReadOnly">The guest cannot write through the share, whatever it mounts with: virtiofsd runs in a
/// mount namespace of its own where the directory, and the mounts below it at the time of the start, are read-only
/// bind mounts. Mounts made below it later reach virtiofsd as they are (make those read-only on the host, as Kata
/// does for read-only volumes).</param>
/// <param name="Cache">virtiofsd's cache mode; <see cref="QemuVirtiofsCache.Auto"/> by default, as Kata.</param>
public sealed record QemuSharedDirectory(string Tag, string HostPath, bool ReadOnly = false, QemuVirtiofsCache Cache = QemuVirtiofsCache.Auto)
{
    /// <summary>
    /// The device's request queues (<c>num-request-queues</c>), so that several vCPUs can have requests in flight at
    /// once. 1 by default, and the most qemu 7.2's C virtiofsd serves: it exits when the guest enables a second
    /// request queue ("multiple request queues not yet implemented"); give more only with a daemon that serves them.
    /// </summary>
    public int RequestQueues { get; init; } = 1;

    /// <summary>virtio-fs's tag field is 36 bytes (<c>virtio_fs_config.tag</c>); qemu refuses a longer one.</summary>
    public const int MaxTagBytes = 36;

    /// <summary>Checks <paramref name="tag"/>; throws <see cref="ArgumentException"/> naming <paramref name="parameterName"/>.</summary>
    internal static void ValidateTag(string? tag, string parameterName)
    {
        if (string.IsNullOrEmpty(tag) || Encoding.UTF8.GetByteCount(tag) > MaxTagBytes
            || !char.IsAsciiLetterOrDigit(tag[0]) || !tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException(
                $"'{tag}' is not a virtio-fs tag: 1 to {MaxTagBytes} ASCII letters, digits, '-', '_' or '.', starting with a letter or digit", parameterName);
        }
    }
}
