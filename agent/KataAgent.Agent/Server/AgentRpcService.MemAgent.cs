using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>MemAgentMemcgSet and MemAgentCompactSet: the settings of the in-guest mem-agent (MemAgent/).</summary>
internal sealed partial class AgentRpcService
{
    public override Task<Empty> MemAgentMemcgSet(MemAgentMemcgConfig request, ServerCallContext context)
    {
        _memAgent.SetMemcg(request);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> MemAgentCompactSet(MemAgentCompactConfig request, ServerCallContext context)
    {
        _memAgent.SetCompact(request);
        return Task.FromResult(new Empty());
    }
}
