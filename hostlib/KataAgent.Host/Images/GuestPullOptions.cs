using KataAgent.Image.Registry;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Images;

/// <summary>How <see cref="Sandboxes.Sandbox.CreateContainerFromGuestPullAsync"/> pulls an image inside the VM and makes a container of it.</summary>
public sealed record GuestPullOptions
{
    /// <summary>Credentials for the image's registry, sent to the guest only (never to a file or a command line); null for anonymous.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>PEM CA certificates the guest trusts for the registry instead of its bundle; null for the guest's bundle.</summary>
    public string? CaPem { get; init; }

    /// <summary>Registries (<c>host[:port]</c>) the guest speaks plain HTTP to.</summary>
    public IReadOnlyCollection<string> PlainHttpRegistries { get; init; } = [];

    /// <summary><c>os/arch[/variant]</c>, or null for the guest's.</summary>
    public string? Platform { get; init; }

    /// <summary>Where the layers and rootfs go in the guest.</summary>
    public GuestPullStorage Storage { get; init; } = GuestPullStorage.Memory;

    /// <summary>With <see cref="GuestPullStorage.Memory"/>: the tmpfs's limit in MiB, 0 for the kernel's default (half the guest's RAM).</summary>
    public uint MemoryLimitMiB { get; init; }

    /// <summary>With <see cref="GuestPullStorage.ScratchDisk"/>: the disk's size (sparse on the host).</summary>
    public long ScratchDiskBytes { get; init; } = 4L << 30;

    /// <summary>What the caller changes of the image's process.</summary>
    public ImageProcessOverrides Overrides { get; init; } = new();

    /// <summary>Give the process a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Called with the container's spec (the image's process put in, root.path the guest's rootfs) before CreateContainer.</summary>
    public Action<Spec>? EditSpec { get; init; }
}
