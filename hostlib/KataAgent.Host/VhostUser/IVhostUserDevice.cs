namespace KataAgent.Host.VhostUser;

/// <summary>
/// A virtio device type served by <c>VhostUserServer</c>: the server speaks the vhost-user control protocol
/// with qemu, maps guest memory and runs the split rings; the device only sees descriptor chains.
/// </summary>
/// <remarks>
/// Threading contract: the server calls <see cref="Start"/>, <see cref="Kick"/>, <see cref="Stop"/> and
/// <see cref="Pause"/> from its one loop thread, never two at once. The device may also use the queues from its
/// own threads (data arriving from host sockets), so it serializes every use of a queue with a lock of its own,
/// and completes every chain it takes before it releases that lock: it never holds a chain across calls, because
/// guest memory may be remapped between them.
/// </remarks>
internal interface IVhostUserDevice
{
    /// <summary>The device type's virtio feature bits (VERSION_1 and PROTOCOL_FEATURES are added by the server).</summary>
    ulong DeviceFeatures { get; }

    /// <summary>How many queues the backend handles, from index 0 (vsock: rx and tx; its event queue stays in qemu).</summary>
    int QueueCount { get; }

    /// <summary>The device's config space, as GET_CONFIG returns it (vsock: <c>le64 guest_cid</c>).</summary>
    ReadOnlySpan<byte> Config { get; }

    /// <summary>The features the driver acknowledged (SET_FEATURES), before the queues start.</summary>
    void SetAcknowledgedFeatures(ulong features);

    /// <summary>
    /// Every queue is enabled and has its rings and kick fd: the device may use them until <see cref="Stop"/>. The
    /// server follows it with one <see cref="Kick"/> per queue (the driver may have made buffers available before
    /// the kick fds were watched).
    /// </summary>
    void Start(IReadOnlyList<IVirtqueue> queues);

    /// <summary>The driver made buffers available on queue <paramref name="queueIndex"/>.</summary>
    void Kick(int queueIndex);

    /// <summary>
    /// The rings stop (GET_VRING_BASE, device reset, qemu gone): the driver's state is gone. Once this returns the
    /// device no longer touches any queue; a later <see cref="Start"/> begins afresh (guest reboot, driver reload)
    /// with new queue objects. Called only after a <see cref="Start"/>, once per start.
    /// </summary>
    void Stop();

    /// <summary>
    /// Keeps the device off guest memory until the handle is disposed: SET_MEM_TABLE replaces the mappings
    /// meanwhile (a DIMM hot-add). Typically the device's queue lock, held.
    /// </summary>
    IDisposable Pause();
}
