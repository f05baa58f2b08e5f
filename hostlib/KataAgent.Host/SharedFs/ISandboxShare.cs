namespace KataAgent.Host.SharedFs;

/// <summary>
/// What a <see cref="Sandboxes.Sandbox"/> does with its share: the seam that lets the sandbox's ordering logic be
/// tested without mounts (and without root). <see cref="SandboxShare"/> is the implementation.
/// </summary>
internal interface ISandboxShare
{
    /// <summary>virtiofsd's source directory.</summary>
    string SharedDirectory { get; }

    /// <summary>Binds a container's rootfs directory into the share; returns its guest path.</summary>
    string ShareRootfs(string containerId, string rootfsDirectory);

    /// <summary>Binds a host file or directory into the share for a container's bind mount; returns its guest path.</summary>
    string ShareVolume(string containerId, string source, string destination, bool readOnly);

    /// <summary>Whether a container has anything in the share.</summary>
    bool Has(string containerId);

    /// <summary>Takes a container's rootfs and volumes out of the share.</summary>
    void Unshare(string containerId);

    /// <summary>Detaches every mount of the share.</summary>
    void UnmountAll();
}
