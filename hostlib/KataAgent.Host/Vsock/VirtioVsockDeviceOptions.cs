namespace KataAgent.Host.Vsock;

/// <summary>How a <see cref="VirtioVsockDevice"/> is set up; the defaults follow Firecracker where it has a number.</summary>
internal sealed record VirtioVsockDeviceOptions
{
    /// <summary>The guest's context id (GET_CONFIG's <c>guest_cid</c>); 3 or more, below 2^32 − 1.</summary>
    public required ulong GuestCid { get; init; }

    /// <summary>The hybrid-vsock unix socket: <c>CONNECT</c> here, guest connections to port P go to <c>&lt;path&gt;_P</c>.</summary>
    public required string HybridSocketPath { get; init; }

    /// <summary>The receive buffer we announce per connection (buf_alloc): what may wait for a slow host reader.</summary>
    public int BufAlloc { get; init; } = 256 * 1024;

    /// <summary>How long a host-initiated REQUEST waits for the guest's RESPONSE.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long our SHUTDOWN (or a guest's SHUTDOWN while data still drains) waits before a forced RST (Firecracker: 2 s).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a hybrid client has to send its <c>CONNECT</c> line.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Connections at once; more are refused (RST, or the hybrid client closed).</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Connection events and errors (never per packet); null for none.</summary>
    public TextWriter? Log { get; init; }
}
