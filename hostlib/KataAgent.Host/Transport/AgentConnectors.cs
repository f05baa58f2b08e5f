using System.Net;
using KataAgent.Linux.Addressing;

namespace KataAgent.Host.Transport;

/// <summary>Maps an <see cref="AgentAddress"/> to the connector that reaches it from the host.</summary>
public static class AgentConnectors
{
    /// <summary>The connector for <paramref name="address"/>; throws <see cref="ArgumentException"/> for
    /// addresses that only make sense inside the guest.</summary>
    public static IAgentConnector For(AgentAddress address, AgentClientOptions options) => address.Kind switch
    {
        AgentAddressKind.Unix => new UnixSocketConnector(address.Path!, address.Text),
        AgentAddressKind.Tcp => new TcpConnector(new IPEndPoint(address.Host!, (int)address.Port), address.Text),
        AgentAddressKind.HybridVsock => new HybridVsockConnector(address.Path!, address.Port, options.HybridVsockHandshakeTimeout, address.Text),
        AgentAddressKind.Vsock => new VsockConnector(address.Cid, address.Port, address.Text),
        AgentAddressKind.Serial when address.Path is not null => new UnixSocketConnector(address.Path, address.Text),
        AgentAddressKind.Serial => throw new ArgumentException(
            $"{address}: a port name is the guest's view of a virtio-serial port; on the host give the path of the VMM's chardev socket (serial:///PATH/TO/agent.sock)",
            nameof(address)),
        _ => throw new ArgumentException($"{address}: unsupported address kind {address.Kind}", nameof(address)),
    };
}
