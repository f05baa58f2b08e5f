using System.Net;
using KataAgent.Linux.Addressing;

namespace KataAgent.Agent.Transport;

/// <summary>An AF_VSOCK (CID, port) to listen on.</summary>
public sealed class VsockEndPoint(AgentAddress address) : EndPoint
{
    public AgentAddress Address { get; } = address;

    public override string ToString() => Address.Text;
}
