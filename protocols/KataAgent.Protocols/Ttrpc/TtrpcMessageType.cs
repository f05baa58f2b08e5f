namespace KataAgent.Protocols.Ttrpc;

/// <summary>The frame type byte of a ttrpc header (ttrpc <c>channel.go</c>).</summary>
internal enum TtrpcMessageType : byte
{
    /// <summary>Opens a stream: carries a <c>ttrpc.Request</c> envelope.</summary>
    Request = 0x1,

    /// <summary>Ends a stream with a <c>ttrpc.Response</c> envelope.</summary>
    Response = 0x2,

    /// <summary>A stream message (ttrpc 1.2 streaming).</summary>
    Data = 0x3,
}
