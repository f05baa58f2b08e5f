namespace KataAgent.Host.Vsock;

/// <summary>The flags of a SHUTDOWN packet: what its sender will no longer do. Once given they cannot be taken back.</summary>
[Flags]
internal enum VsockShutdownFlags : uint
{
    /// <summary>Nothing shut down.</summary>
    None = 0,

    /// <summary>The sender will receive no more data.</summary>
    Receive = 1,

    /// <summary>The sender will send no more data.</summary>
    Send = 2,

    /// <summary>Both directions.</summary>
    Both = Receive | Send,
}
