using System.Net;
using KataAgent.Linux.Addressing;

namespace KataAgent.Agent.Server.GrpcHost;

/// <summary>Kestrel's name for the agent's address: the connections come from the agent's listener, not from a bind.</summary>
internal sealed class HandoffEndPoint(AgentAddress address) : EndPoint
{
    public AgentAddress Address { get; } = address;

    public override string ToString() => Address.Text;
}
