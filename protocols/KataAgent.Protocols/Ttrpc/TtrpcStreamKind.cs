namespace KataAgent.Protocols.Ttrpc;

/// <summary>Which sides of a ttrpc 1.2 stream carry more than one message.</summary>
public enum TtrpcStreamKind
{
    /// <summary>The client sends data frames and closes its side; the server answers once, with a Response.</summary>
    ClientStreaming,

    /// <summary>The client sends one request; the server sends data frames and ends with <c>Data[RemoteClosed]</c>.</summary>
    ServerStreaming,

    /// <summary>Both sides send data frames; the server ends with <c>Data[RemoteClosed]</c>.</summary>
    Duplex,
}
