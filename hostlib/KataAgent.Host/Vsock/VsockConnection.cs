using System.Net.Sockets;

namespace KataAgent.Host.Vsock;

/// <summary>
/// One stream between a guest socket and a host unix socket, keyed by (host port, guest port). A state holder:
/// <see cref="VirtioVsockDevice"/> drives it under its lock.
/// </summary>
/// <remarks>
/// The credit counters are free-running u32s as on the wire. Our receive side (guest to host): the guest sent
/// <see cref="RecvCnt"/> bytes, the host socket took <see cref="FwdCnt"/>, the difference waits in
/// <see cref="TxBuffer"/>. The guest's receive side (host to guest): we sent <see cref="RxCnt"/> bytes and may send
/// <see cref="PeerCredit"/> more.
/// </remarks>
internal sealed class VsockConnection(uint localPort, uint peerPort, Socket socket, VsockConnectionState state, bool hostInitiated, int bufAlloc)
{
    /// <summary>The host-side (CID 2) port.</summary>
    public uint LocalPort { get; } = localPort;

    /// <summary>The guest-side port.</summary>
    public uint PeerPort { get; } = peerPort;

    /// <summary>The connection map's key.</summary>
    public ulong Key { get; } = KeyOf(localPort, peerPort);

    /// <summary>The host unix socket: a hybrid client, or the socket we connected to <c>&lt;path&gt;_&lt;port&gt;</c>.</summary>
    public Socket Socket { get; } = socket;

    /// <summary>Opened by a hybrid client's CONNECT (else by the guest's REQUEST).</summary>
    public bool HostInitiated { get; } = hostInitiated;

    /// <summary>Where the connection is.</summary>
    public VsockConnectionState State { get; set; } = state;

    /// <summary>Removed from the device, host socket closed.</summary>
    public bool Closed { get; set; }

    /// <summary>Guest-to-host bytes the host socket has not taken yet.</summary>
    public VsockTxBuffer TxBuffer { get; } = new(bufAlloc);

    /// <summary>An asynchronous send drains <see cref="TxBuffer"/>; nothing else writes to the host socket meanwhile.</summary>
    public bool Flushing { get; set; }

    /// <summary>Payload bytes received from the guest.</summary>
    public uint RecvCnt { get; set; }

    /// <summary>Payload bytes written to the host socket: our fwd_cnt.</summary>
    public uint FwdCnt { get; set; }

    /// <summary>The fwd_cnt the guest last heard from us (every packet carries it).</summary>
    public uint LastFwdCntSent { get; set; }

    /// <summary>The guest's receive buffer for this connection.</summary>
    public uint PeerBufAlloc { get; set; }

    /// <summary>The guest's fwd_cnt.</summary>
    public uint PeerFwdCnt { get; set; }

    /// <summary>Payload bytes sent to the guest.</summary>
    public uint RxCnt { get; set; }

    /// <summary>Bytes the guest can take now: buf_alloc − (sent − forwarded), wrapping.</summary>
    public uint PeerCredit
    {
        get
        {
            uint inFlight = RxCnt - PeerFwdCnt;
            return inFlight >= PeerBufAlloc ? 0 : PeerBufAlloc - inFlight;
        }
    }

    /// <summary>What the guest said it will no longer do (sticky).</summary>
    public VsockShutdownFlags PeerShutdown { get; set; }

    /// <summary>What we told the guest we will no longer do (sticky).</summary>
    public VsockShutdownFlags LocalShutdown { get; set; }

    /// <summary>The host socket's read side ended (its peer shut its write side or closed).</summary>
    public bool HostEof { get; set; }

    /// <summary>We shut the host socket's write side (after the guest's SHUTDOWN send bit, once drained).</summary>
    public bool HostWriteShut { get; set; }

    /// <summary>Control packets owed to the guest.</summary>
    public VsockPendingControl Pending { get; set; }

    /// <summary>Sits in the device's control queue.</summary>
    public bool InControlQueue { get; set; }

    /// <summary>Sits in the device's data queue.</summary>
    public bool InDataQueue { get; set; }

    /// <summary>The host socket has data or EOF to read (its readiness fired and no read came up empty since).</summary>
    public bool Readable { get; set; }

    /// <summary>A readiness wait is pending on the host socket.</summary>
    public bool ReadArmed { get; set; }

    /// <summary>The zero-byte receive that waits for readiness; one per connection, reused.</summary>
    public SocketAsyncEventArgs? ReadinessArgs { get; set; }

    /// <summary>A CREDIT_REQUEST went out since the guest's credit last changed.</summary>
    public bool CreditRequested { get; set; }

    /// <summary>When the connection is reset if still waiting (<see cref="Environment.TickCount64"/>; 0 = never).</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Nothing from the guest waits for the host socket.</summary>
    public bool TxDrained => TxBuffer.IsEmpty && !Flushing;

    /// <summary>The map key of (<paramref name="localPort"/>, <paramref name="peerPort"/>).</summary>
    public static ulong KeyOf(uint localPort, uint peerPort) => ((ulong)localPort << 32) | peerPort;

    /// <inheritdoc />
    public override string ToString() => $"vsock {(HostInitiated ? "host" : "guest")} connection 2:{LocalPort}<->guest:{PeerPort}";
}
