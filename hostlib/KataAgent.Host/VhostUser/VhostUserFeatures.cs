namespace KataAgent.Host.VhostUser;

/// <summary>The feature bits the server itself deals in: virtio transport bits and vhost-user protocol features.</summary>
internal static class VhostUserFeatures
{
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC (28): not offered, the server does not follow indirect tables.</summary>
    public const ulong IndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_RING_F_EVENT_IDX (29): used_event / avail_event notification suppression.</summary>
    public const ulong EventIndex = 1UL << 29;

    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES (30): protocol features are negotiated, rings start disabled.</summary>
    public const ulong ProtocolFeatures = 1UL << 30;

    /// <summary>VIRTIO_F_VERSION_1 (32): a modern device.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>
    /// The device-type bits a device may offer: 0-23 and 50 and up (virtio 1.2 §6, "Reserved Feature Bits"). The
    /// bits between belong to the transport and the ring, which the server implements or refuses itself.
    /// </summary>
    public const ulong DeviceTypeMask = 0x0000_0000_00FF_FFFFUL | ~((1UL << 50) - 1);

    /// <summary>VHOST_USER_PROTOCOL_F_MQ (0): GET_QUEUE_NUM.</summary>
    public const ulong ProtocolMultiQueue = 1UL << 0;

    /// <summary>VHOST_USER_PROTOCOL_F_REPLY_ACK (3): NEED_REPLY is answered with a u64 status.</summary>
    public const ulong ProtocolReplyAck = 1UL << 3;

    /// <summary>VHOST_USER_PROTOCOL_F_CONFIG (9): GET_CONFIG / SET_CONFIG; qemu's vhost-user-vsock requires it.</summary>
    public const ulong ProtocolConfig = 1UL << 9;

    /// <summary>What the server offers in GET_PROTOCOL_FEATURES.</summary>
    public const ulong OfferedProtocolFeatures = ProtocolMultiQueue | ProtocolReplyAck | ProtocolConfig;
}
