namespace KataAgent.Protocols.Guest;

/// <summary>
/// Paths inside the guest that the host and the agent must agree on: the host writes them into OCI specs and
/// storages, the agent creates and checks them. Kata's layout, so a Kata runtime finds the same places.
/// </summary>
public static class GuestLayout
{
    /// <summary>The root of everything the agent keeps for containers (bundles, rootfs mount points); storages
    /// may be mounted only below it.</summary>
    public const string RunDirectory = "/run/kata-containers";

    /// <summary>The sandbox's own files (resolv.conf).</summary>
    public const string SandboxDirectory = RunDirectory + "/sandbox";

    /// <summary>CreateSandbox's DNS lines: the source of each container's /etc/resolv.conf bind mount, and
    /// (the agent being PID 1) the guest's own /etc/resolv.conf, as in Kata.</summary>
    public const string SandboxResolvConfPath = SandboxDirectory + "/resolv.conf";

    /// <summary>
    /// Where the sandbox's virtio-fs share is mounted in the guest (Kata's <c>defaultKataGuestSharedDir</c>, written
    /// with its trailing slash as Kata sends it in Storage.mount_point): the host's per-sandbox shared directory shows
    /// up here, each container's rootfs and shared volumes as a directory below it.
    /// </summary>
    public const string SharedDirectory = RunDirectory + "/shared/containers/";

    /// <summary>The virtio-fs tag of the sandbox's share (Kata's <c>mountGuestTag</c>).</summary>
    public const string SharedFsTag = "kataShared";

    /// <summary>Where the shared sandbox namespaces are pinned (as Kata: /run/sandbox-ns).</summary>
    public const string SandboxNamespaceDirectory = "/run/sandbox-ns";

    /// <summary>Where container <paramref name="containerId"/>'s rootfs disk is mounted (its OCI <c>Root.Path</c>).
    /// The id must have passed <see cref="ContainerIds"/>.</summary>
    public static string ContainerRootfs(string containerId) => $"{RunDirectory}/{containerId}/rootfs";
}
