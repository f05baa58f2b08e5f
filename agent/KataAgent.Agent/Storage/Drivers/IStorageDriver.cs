namespace KataAgent.Agent.Storage.Drivers;

/// <summary>
/// One Storage.driver value: what it checks in a request and how it mounts. <see cref="StorageManager"/>
/// does what all drivers share (the mount point rule, counting users, unmounting) and picks the
/// driver from <see cref="StorageDrivers"/> by name.
/// </summary>
internal interface IStorageDriver
{
    /// <summary>The Storage.driver value this driver handles.</summary>
    string Name { get; }

    /// <summary>Whether a mount point the agent created goes away again with the storage's last user.</summary>
    bool RemovesCreatedMountPoint { get; }

    /// <summary>Checks the driver's own fields of <paramref name="storage"/>; throws INVALID_ARGUMENT naming <c><paramref name="at"/>.x</c>.</summary>
    void Validate(Protocols.Agent.Storage storage, string at);

    /// <summary>
    /// Does what may take long (waiting for a hot-plugged disk) before the storage manager takes its
    /// lock, and returns the step to run under it: mount on the given mount point (which exists),
    /// answering false when nothing was mounted (a plain directory).
    /// </summary>
    Task<Func<string, bool>> PrepareAsync(Protocols.Agent.Storage storage, string at, StorageDriverContext context, CancellationToken cancellationToken);

    /// <summary>Runs after the storage's last user released it and its mount point was unmounted: frees what the driver holds for it.</summary>
    void Released(string mountPoint, StorageDriverContext context)
    {
    }
}
