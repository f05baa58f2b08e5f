namespace KataAgent.Host.Vsock;

/// <summary>The virtio-vsock packet operations (virtio spec, "Device Operation").</summary>
internal enum VsockOp : ushort
{
    /// <summary>Not a valid operation: what an all-zero header carries.</summary>
    Invalid = 0,

    /// <summary>Connect to the destination port.</summary>
    Request = 1,

    /// <summary>The connection was accepted.</summary>
    Response = 2,

    /// <summary>The connection is gone (refused, reset, or the last step of a clean close).</summary>
    Rst = 3,

    /// <summary>The sender will no longer receive and/or send (<see cref="VsockShutdownFlags"/>); sticky.</summary>
    Shutdown = 4,

    /// <summary>Payload bytes.</summary>
    Rw = 5,

    /// <summary>The sender's buf_alloc and fwd_cnt, unsolicited or in answer to a <see cref="CreditRequest"/>.</summary>
    CreditUpdate = 6,

    /// <summary>Asks the peer for a <see cref="CreditUpdate"/>.</summary>
    CreditRequest = 7,
}
