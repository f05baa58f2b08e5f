namespace KataAgent.Linux.Addressing;

/// <summary>The transports of the address syntax (see docs/ADDRESSES.md).</summary>
public enum AgentAddressKind
{
    /// <summary><c>vsock://CID:PORT</c>: AF_VSOCK.</summary>
    Vsock,

    /// <summary><c>hvsock:///path/to/vm.sock:PORT</c>: hybrid vsock (CONNECT/OK over a unix socket).</summary>
    HybridVsock,

    /// <summary><c>serial:///dev/vport0p1</c> or <c>serial://NAME</c>: a virtio-serial port.</summary>
    Serial,

    /// <summary><c>unix:///path</c> or <c>unix://@abstract</c>: a unix stream socket.</summary>
    Unix,

    /// <summary><c>tcp://127.0.0.1:PORT</c>: TCP on loopback only (tests).</summary>
    Tcp,
}
