using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>SetPolicy: the agent policy (docs/POLICY.md). Whether SetPolicy itself is allowed was decided by the policy in force before this runs (Binding/PolicyGate).</summary>
internal sealed partial class AgentRpcService
{
    public override Task<Empty> SetPolicy(SetPolicyRequest request, ServerCallContext context)
    {
        _policy.Set(request.Policy);
        return Task.FromResult(new Empty());
    }
}
