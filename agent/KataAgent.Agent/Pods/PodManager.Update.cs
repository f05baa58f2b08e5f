using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>UpdatePod: CPUs, memory and the containers' limits in one operation (<see cref="PodResizer"/> orders it).</summary>
internal sealed partial class PodManager
{
    /// <summary>A vCPU count beyond any VMM's.</summary>
    private const uint MaxVcpus = 4096;

    public async Task<UpdatePodResponse> UpdateAsync(UpdatePodRequest request, CancellationToken cancellationToken)
    {
        var pod = Require(request.PodId);
        if (request.Vcpus > MaxVcpus)
        {
            throw AgentException.InvalidArgument("vcpus", $"{request.Vcpus} is more than {MaxVcpus}");
        }
        var limits = new List<Action>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < request.Containers.Count; i++)
        {
            var entry = request.Containers[i];
            string field = $"containers[{i}]";
            if (pod.FindByContainerId(entry.ContainerId) is null)
            {
                throw AgentException.NotFound($"{field}.container_id", $"'{entry.ContainerId}' is not a container of pod '{pod.Id}'");
            }
            if (!named.Add(entry.ContainerId))
            {
                throw AgentException.InvalidArgument($"{field}.container_id", $"'{entry.ContainerId}' is named twice");
            }
            if (entry.Resources is null)
            {
                throw AgentException.InvalidArgument($"{field}.resources", "is missing");
            }
            // UpdateContainer's own path; its errors name the resource field under this entry.
            limits.Add(() => PodRequestValidator.Nested($"{field}.", () => { _containers.Update(entry.ContainerId, entry.Resources); return 0; }));
        }
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Require(request.PodId);
            var (cpus, memory) = await _resizer.ResizeAsync(request.Vcpus, request.OnlineMemory, limits, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("pod {Pod} updated: {Cpus} CPUs online, MemTotal {Memory} bytes, {Count} containers' limits set", pod.Id, cpus, memory, limits.Count);
            return new UpdatePodResponse { OnlineCpus = cpus, MemTotalBytes = memory };
        }
        finally
        {
            _lifecycle.Release();
        }
    }
}
