namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The bytes on a ttrpc connection are not a valid frame stream (a header cut short by end of stream, a length over
/// the 4 MiB limit, an unknown frame type). Only the connection it came from is unusable: its owner catches this,
/// closes that connection and goes on serving the others.
/// </summary>
public sealed class TtrpcProtocolException : IOException
{
    /// <summary>Creates the exception for a connection whose framing broke.</summary>
    /// <param name="message">What was wrong with the bytes.</param>
    /// <param name="streamId">The stream id of the offending frame, when its header was read whole.</param>
    public TtrpcProtocolException(string message, uint? streamId = null)
        : base(message)
    {
        StreamId = streamId;
    }

    /// <summary>The stream id of the offending frame, or null when no whole header was read.</summary>
    public uint? StreamId { get; }

    /// <summary>True when the frame announced a payload over the limit (the peer is owed ResourceExhausted).</summary>
    internal bool Oversized { get; init; }
}
