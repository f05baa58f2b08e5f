using Grpc.Core;
using KataAgent.Agent.Pods;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Server;

/// <summary>
/// kataagent.v1.Pods: the whole-pod API, over gRPC and ttrpc alike. Each call goes to <see cref="PodManager"/>,
/// which checks the request and names the field at fault; failures become statuses in AgentErrorMapping.
/// </summary>
internal sealed class PodsService(PodManager pods) : global::KataAgent.Protocols.Extensions.Pods.PodsBase
{
    /// <summary>DeletePodRequest.grace_seconds at most: an hour.</summary>
    private const uint MaxGraceSeconds = 3600;

    public override async Task<CreatePodResponse> CreatePod(CreatePodRequest request, ServerCallContext context)
    {
        await pods.CreateAsync(request, context.CancellationToken).ConfigureAwait(false);
        return new CreatePodResponse();
    }

    public override async Task<StartPodResponse> StartPod(StartPodRequest request, ServerCallContext context) =>
        new() { Gate = await pods.StartAsync(request.PodId, context.CancellationToken).ConfigureAwait(false) };

    public override Task<UpdatePodResponse> UpdatePod(UpdatePodRequest request, ServerCallContext context) =>
        pods.UpdateAsync(request, context.CancellationToken);

    public override async Task<DeletePodResponse> DeletePod(DeletePodRequest request, ServerCallContext context)
    {
        if (request.GraceSeconds > MaxGraceSeconds)
        {
            throw Errors.AgentException.InvalidArgument("grace_seconds", $"{request.GraceSeconds} is more than {MaxGraceSeconds}");
        }
        await pods.DeleteAsync(request.PodId, TimeSpan.FromSeconds(request.GraceSeconds), context.CancellationToken).ConfigureAwait(false);
        return new DeletePodResponse();
    }

    public override Task<PodStatus> GetPod(GetPodRequest request, ServerCallContext context) =>
        Task.FromResult(pods.Get(request.PodId));

    public override async Task WatchPod(WatchPodRequest request, IServerStreamWriter<PodEvent> responseStream, ServerCallContext context)
    {
        await foreach (var e in pods.WatchAsync(request.PodId, context.CancellationToken).ConfigureAwait(false))
        {
            await responseStream.WriteAsync(e, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
