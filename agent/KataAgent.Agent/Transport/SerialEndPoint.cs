using System.Net;
using KataAgent.Linux.Addressing;

namespace KataAgent.Agent.Transport;

/// <summary>A virtio-serial port (or any character device carrying one byte stream) to serve on.</summary>
public sealed class SerialEndPoint(AgentAddress address) : EndPoint
{
    public AgentAddress Address { get; } = address;

    public override string ToString() => Address.Text;
}
