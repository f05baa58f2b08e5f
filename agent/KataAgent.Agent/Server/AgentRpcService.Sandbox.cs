using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>Sandbox RPCs.</summary>
internal sealed partial class AgentRpcService
{
    public override async Task<Empty> CreateSandbox(CreateSandboxRequest request, ServerCallContext context)
    {
        await _sandbox.CreateAsync(request, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    /// <summary>Removes every container and the sandbox's shared state. The agent keeps serving
    /// (as PID 1 in a VM, the VM issue adds sync and power-off here).</summary>
    public override async Task<Empty> DestroySandbox(DestroySandboxRequest request, ServerCallContext context)
    {
        await _sandbox.DestroyAsync(context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }
}
