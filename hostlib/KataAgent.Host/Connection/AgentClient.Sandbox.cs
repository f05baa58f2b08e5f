using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>CreateSandbox: Sets up the sandbox: hostname, DNS, sandbox storages, shared namespaces. Once per VM.</summary>
    public async Task CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken = default) =>
        await _calls.CreateSandboxAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>DestroySandbox: Destroys every container and tears the sandbox down.</summary>
    public async Task DestroySandboxAsync(DestroySandboxRequest request, CancellationToken cancellationToken = default) =>
        await _calls.DestroySandboxAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>SetPolicy: Loads an agent policy document.</summary>
    public async Task SetPolicyAsync(SetPolicyRequest request, CancellationToken cancellationToken = default) =>
        await _calls.SetPolicyAsync(request, Call(cancellationToken)).ConfigureAwait(false);
}
