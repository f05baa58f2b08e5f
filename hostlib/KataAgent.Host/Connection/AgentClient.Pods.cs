using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Core.Interceptors;
using KataAgent.Protocols.Extensions;
using PodsService = KataAgent.Protocols.Extensions.Pods;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    private PodsService.PodsClient? _pods;

    /// <summary>kataagent.v1.Pods on this connection, its failures translated as every typed call's.</summary>
    private PodsService.PodsClient PodsCalls => _pods ??= new PodsService.PodsClient(_invoker.Intercept(new AgentStatusInterceptor()));

    /// <summary>
    /// kataagent.v1.Pods/CreatePod: the agent sets up the sandbox, the pod's volumes and every container (created, not
    /// started) as one transaction; on any error it undoes all of it. No deadline but the caller's token: the agent
    /// waits for the pod's disks and mounts every rootfs and volume, which under TCG takes long.
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused: INVALID_ARGUMENT naming the container and field,
    /// NOT_FOUND (a device that did not appear), ALREADY_EXISTS (the guest has a pod or sandbox already).</exception>
    public async Task CreatePodAsync(CreatePodRequest request, CancellationToken cancellationToken = default) =>
        await PodsCalls.CreatePodAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>
    /// kataagent.v1.Pods/StartPod: runs the pod's start gate in the guest (once it has passed it is not run again) and
    /// starts the containers. Bounded only by the caller's token: the gate has its own timeout in the guest.
    /// </summary>
    /// <exception cref="AgentStatusException">FAILED_PRECONDITION: the gate failed (its outcome is in <see cref="GetPodAsync"/>).</exception>
    public async Task<StartPodResponse> StartPodAsync(string podId, CancellationToken cancellationToken = default) =>
        await PodsCalls.StartPodAsync(new StartPodRequest { PodId = podId }, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>
    /// kataagent.v1.Pods/UpdatePod: onlines what the host hot-plugged, offlines CPUs above <see cref="UpdatePodRequest.Vcpus"/>
    /// and sets the containers' cgroup limits, in one operation. Bounded by the caller's token: onlining waits for the
    /// guest to see the devices.
    /// </summary>
    public async Task<UpdatePodResponse> UpdatePodAsync(UpdatePodRequest request, CancellationToken cancellationToken = default) =>
        await PodsCalls.UpdatePodAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>kataagent.v1.Pods/DeletePod: stops every container (SIGKILL after <paramref name="graceSeconds"/>), destroys them, unmounts the volumes and ends the sandbox.</summary>
    public async Task DeletePodAsync(string podId, uint graceSeconds, CancellationToken cancellationToken = default) =>
        await PodsCalls.DeletePodAsync(new DeletePodRequest { PodId = podId, GraceSeconds = graceSeconds }, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>kataagent.v1.Pods/GetPod: the pod's gate, containers and their states now.</summary>
    public async Task<PodStatus> GetPodAsync(string podId, CancellationToken cancellationToken = default) =>
        await PodsCalls.GetPodAsync(new GetPodRequest { PodId = podId }, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>
    /// kataagent.v1.Pods/WatchPod: the pod's current status first (an event per container and the gate's), then every
    /// change, until the pod is deleted (a <see cref="PodEvent.KindOneofCase.Deleted"/> event, then the end) or the
    /// caller cancels (the enumeration then throws <see cref="OperationCanceledException"/>).
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused (NOT_FOUND: no such pod), or the stream broke.</exception>
    public async IAsyncEnumerable<PodEvent> WatchPodAsync(string podId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The generated client without the interceptor: it translates unary calls only; a stream's failures are translated here.
        using var call = new PodsService.PodsClient(_invoker).WatchPod(new WatchPodRequest { PodId = podId }, LongPoll(cancellationToken));
        while (true)
        {
            PodEvent current;
            try
            {
                if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    yield break;
                }
                current = call.ResponseStream.Current;
            }
            catch (RpcException e)
            {
                throw AgentStatusException.From(e, "WatchPod", cancellationToken);
            }
            yield return current;
        }
    }
}
