namespace KataAgent.Host.Vsock;

/// <summary>What a <see cref="VhostUserVsockBackend"/> serves: the socket qemu connects to, the hybrid-vsock socket, the guest's CID.</summary>
public sealed record VhostUserVsockOptions
{
    /// <summary>The vhost-user socket qemu's <c>-chardev socket,path=…</c> connects to (qemu is the client).</summary>
    public required string VhostUserSocketPath { get; init; }

    /// <summary>
    /// The hybrid-vsock unix socket: a client writes <c>CONNECT &lt;port&gt;\n</c> and reads <c>OK &lt;host port&gt;\n</c>
    /// (what <c>hvsock://PATH:PORT</c> does); a guest connecting to host port P reaches the unix socket <c>PATH_P</c>.
    /// </summary>
    public required string HybridSocketPath { get; init; }

    /// <summary>The guest's context id, as the guest reads it from the device's config (3 up to 4294967294).</summary>
    public required uint GuestCid { get; init; }

    /// <summary>Where the backend logs connection events and protocol errors (never per packet); null for nowhere.</summary>
    public TextWriter? Log { get; init; }
}
