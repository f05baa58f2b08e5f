using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>CreateContainer: Creates a container from an OCI spec; its init process waits for <see cref="StartContainerAsync"/>.</summary>
    public async Task CreateContainerAsync(CreateContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.CreateContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>StartContainer: Starts a created container's init process.</summary>
    public async Task StartContainerAsync(StartContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.StartContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>RemoveContainer: Stops a container's processes and releases its mounts and cgroups. Not bounded by the default deadline: the request carries its own timeout (0 waits for ever).</summary>
    public async Task RemoveContainerAsync(RemoveContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.RemoveContainerAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);

    /// <summary>UpdateContainer: Changes a running container's cgroup resources.</summary>
    public async Task UpdateContainerAsync(UpdateContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.UpdateContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>UpdateEphemeralMounts: Re-applies tmpfs-backed ephemeral storages (e.g. a resized emptyDir).</summary>
    public async Task UpdateEphemeralMountsAsync(UpdateEphemeralMountsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.UpdateEphemeralMountsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>StatsContainer: Cgroup and network statistics of a container.</summary>
    public async Task<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.StatsContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>PauseContainer: Freezes a container's cgroup.</summary>
    public async Task PauseContainerAsync(PauseContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.PauseContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ResumeContainer: Thaws a container's cgroup.</summary>
    public async Task ResumeContainerAsync(ResumeContainerRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ResumeContainerAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>RemoveStaleVirtiofsShareMounts: Cleans up stale virtio-fs share mounts.</summary>
    public async Task RemoveStaleVirtiofsShareMountsAsync(RemoveStaleVirtiofsShareMountsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.RemoveStaleVirtiofsShareMountsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>GetDiagnosticData: Reads diagnostics such as a container's termination log.</summary>
    public async Task<GetDiagnosticDataResponse> GetDiagnosticDataAsync(GetDiagnosticDataRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetDiagnosticDataAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>GetOOMEvent: Long poll: the id of the next container that hit an OOM kill. No deadline; cancel to stop.</summary>
    public async Task<OOMEvent> GetOOMEventAsync(GetOOMEventRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetOOMEventAsync(request, LongPoll(cancellationToken)).ConfigureAwait(false);
}
