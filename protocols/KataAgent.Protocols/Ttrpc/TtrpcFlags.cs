namespace KataAgent.Protocols.Ttrpc;

/// <summary>The flags byte of a ttrpc header; its meaning depends on the frame type.</summary>
[Flags]
internal enum TtrpcFlags : byte
{
    /// <summary>A unary request, or a response (responses define no flags).</summary>
    None = 0,

    /// <summary>The sender sends nothing more on this stream.</summary>
    RemoteClosed = 0x1,

    /// <summary>On a request: the client will stream data frames.</summary>
    RemoteOpen = 0x2,

    /// <summary>On a data frame: the frame carries no message (not even an empty one).</summary>
    NoData = 0x4,
}
