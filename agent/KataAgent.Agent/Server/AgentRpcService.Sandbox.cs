using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Guest;
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

    /// <summary>Removes every container and the sandbox's shared state. Stand-alone the agent keeps
    /// serving; as PID 1 of a VM it then stops, which syncs and powers the VM off (AgentMain).</summary>
    public override async Task<Empty> DestroySandbox(DestroySandboxRequest request, ServerCallContext context)
    {
        await _sandbox.DestroyAsync(context.CancellationToken).ConfigureAwait(false);
        if (GuestInit.IsPid1)
        {
            // Answer first; the power-off follows once the response is on its way.
            _ = Task.Delay(TimeSpan.FromMilliseconds(200)).ContinueWith(_ => _lifetime.RequestStop(), TaskScheduler.Default);
        }
        return new Empty();
    }
}
