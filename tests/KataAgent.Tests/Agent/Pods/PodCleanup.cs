using Grpc.Core;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>
/// Deletes a test's pod when the test ends, however it ends: a stand-alone agent that is killed leaves its
/// containers' cgroups in the host's hierarchy. A pod the test deleted itself makes this a no-op.
/// </summary>
internal sealed class PodCleanup(KataAgent.Protocols.Extensions.Pods.PodsClient pods, string podId) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        try
        {
            await pods.DeletePodAsync(new DeletePodRequest { PodId = podId, GraceSeconds = 0 }, deadline: DateTime.UtcNow.AddSeconds(60));
        }
        catch (RpcException)
        {
            // Never created, or the agent is gone: nothing to delete through it.
        }
    }
}
