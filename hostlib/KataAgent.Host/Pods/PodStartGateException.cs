using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Pods;

/// <summary>
/// The pod's start gate failed in the guest (<see cref="Pod.StartAsync"/>): the agent refuses to start the pod's
/// containers until a later start's gate passes. <see cref="Gate"/> is the outcome the guest reported, which the host
/// cannot override.
/// </summary>
public sealed class PodStartGateException : KataAgentException
{
    /// <summary>The failure of pod <paramref name="podId"/>'s gate, as the guest reported it.</summary>
    public PodStartGateException(string podId, GateStatus gate, Exception? innerException = null)
        : base(KataAgentErrorKind.StartGate, $"pod {podId}: the start gate failed in the guest ({gate.Reason}); its containers were not started", innerException)
    {
        PodId = podId;
        Gate = gate;
    }

    /// <summary>The pod.</summary>
    public string PodId { get; }

    /// <summary>The gate's outcome: state, exit code, reason, and the end of its output.</summary>
    public GateStatus Gate { get; }
}
