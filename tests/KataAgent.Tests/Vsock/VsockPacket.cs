using KataAgent.Host.Vsock;

namespace KataAgent.Tests.Vsock;

/// <summary>A packet the device put on the rx queue, as the fake guest read it back.</summary>
internal sealed record VsockPacket(VsockPacketHeader Header, byte[] Payload)
{
    public VsockOp Op => Header.Op;

    public override string ToString() => Header.ToString();
}
