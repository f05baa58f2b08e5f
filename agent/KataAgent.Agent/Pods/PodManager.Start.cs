using System.Text;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>StartPod: the start gate, then the containers in order.</summary>
internal sealed partial class PodManager
{
    /// <summary>How much of a failed gate's output goes into the error message (all of it is in GetPod).</summary>
    private const int GateOutputInMessage = 1024;

    /// <summary>
    /// Runs the gate unless it has passed (a failed one runs again), then starts each container still created, in
    /// the request's order. A gate that fails is FAILED_PRECONDITION naming <c>start_gate</c>, with its reason and
    /// the end of its output; its outcome is kept for GetPod and WatchPod.
    /// </summary>
    public async Task<GateStatus> StartAsync(string podId, CancellationToken cancellationToken)
    {
        var pod = Require(podId);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            pod = Require(podId);
            if (!pod.GateOpen)
            {
                await RunGateAsync(pod, cancellationToken).ConfigureAwait(false);
            }
            var gate = pod.GateStatus;
            if (!pod.GateOpen)
            {
                string output = Encoding.UTF8.GetString(gate.Output.Span[Math.Max(0, gate.Output.Length - GateOutputInMessage)..]).Trim();
                throw AgentException.FailedPrecondition("start_gate", $"the start gate of pod '{pod.Id}' failed ({gate.Reason}){(output.Length > 0 ? $"; its output ends: {output}" : "")}");
            }
            foreach (var member in pod.Members)
            {
                if (_containers.Contains(member.ContainerId) && _containers.Get(member.ContainerId).State == ContainerState.Created)
                {
                    await PodRequestValidator.NestedAsync($"{member.Field}.", () => _containers.StartAsync(member.ContainerId, cancellationToken)).ConfigureAwait(false);
                }
            }
            _logger.LogInformation("pod {Pod} started", pod.Id);
            return gate.Clone();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private async Task RunGateAsync(Pod pod, CancellationToken cancellationToken)
    {
        var gate = pod.Gate!;
        SetGate(pod, new GateStatus { State = GateStatus.Types.State.Pending });
        Container? root = null;
        GateStatus outcome;
        if (gate.Container.Length > 0)
        {
            var member = pod.Members.First(m => m.Name == gate.Container);
            root = _containers.Contains(member.ContainerId) ? _containers.Get(member.ContainerId) : null;
            if (root is null)
            {
                outcome = new GateStatus { State = GateStatus.Types.State.Failed, ExitCode = -1, Reason = $"container '{gate.Container}' is gone" };
                SetGate(pod, outcome);
                return;
            }
        }
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, pod.Ending.Token);
        try
        {
            outcome = await _gates.RunAsync(gate, root, run.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            SetGate(pod, new GateStatus { State = GateStatus.Types.State.Failed, ExitCode = -1, Reason = pod.Ending.IsCancellationRequested ? "killed: the pod is being deleted" : "killed: StartPod was cancelled" });
            throw;
        }
        SetGate(pod, outcome);
    }

    private static void SetGate(Pod pod, GateStatus status)
    {
        lock (pod.Watchers.Sync)
        {
            pod.GateStatus = status;
            pod.Watchers.Publish(new PodEvent { Gate = status.Clone() });
        }
    }
}
