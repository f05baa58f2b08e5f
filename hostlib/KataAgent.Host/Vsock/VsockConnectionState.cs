namespace KataAgent.Host.Vsock;

/// <summary>Where a connection is in its life (the half-close details live in the shutdown flags beside it).</summary>
internal enum VsockConnectionState
{
    /// <summary>Host-initiated: REQUEST queued or sent, waiting for the guest's RESPONSE (or RST, or the timeout).</summary>
    LocalInit,

    /// <summary>Both sides connected; data flows within the shutdown flags.</summary>
    Established,

    /// <summary>We sent SHUTDOWN with both bits and wait for the guest's RST, or the timeout that forces ours.</summary>
    Closing,
}
