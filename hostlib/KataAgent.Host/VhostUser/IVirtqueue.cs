namespace KataAgent.Host.VhostUser;

/// <summary>
/// One split virtqueue as a device uses it. Not thread-safe: the device serializes its calls (see
/// <see cref="IVhostUserDevice"/>).
/// </summary>
internal interface IVirtqueue
{
    /// <summary>The queue's index (vsock: 0 rx, 1 tx).</summary>
    int Index { get; }

    /// <summary>The queue size (descriptors).</summary>
    int Size { get; }

    /// <summary>Takes the next chain the driver made available; false when there is none.</summary>
    /// <exception cref="VirtqueueException">The driver's ring or descriptors are malformed (a loop, an address outside guest memory).</exception>
    bool TryTake(out VirtqueueChain chain);

    /// <summary>Gives <paramref name="chain"/> back to the driver as used, with <paramref name="bytesWritten"/> bytes written into its writable part.</summary>
    void Complete(VirtqueueChain chain, uint bytesWritten);

    /// <summary>Signals the driver (the call eventfd) if it wants to be told of the chains completed since the last signal.</summary>
    void NotifyDriver();
}
