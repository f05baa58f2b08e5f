using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>GetMetrics: The agent's and the guest's metrics in Prometheus text format.</summary>
    public async Task<Metrics> GetMetricsAsync(GetMetricsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetMetricsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>MemAgentMemcgSet: Tunes the guest memory agent's memcg reclaimer.</summary>
    public async Task MemAgentMemcgSetAsync(MemAgentMemcgConfig request, CancellationToken cancellationToken = default) =>
        await _calls.MemAgentMemcgSetAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>MemAgentCompactSet: Tunes the guest memory agent's compactor.</summary>
    public async Task MemAgentCompactSetAsync(MemAgentCompactConfig request, CancellationToken cancellationToken = default) =>
        await _calls.MemAgentCompactSetAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>OnlineCPUMem: Brings hot-plugged CPUs and memory online.</summary>
    public async Task OnlineCPUMemAsync(OnlineCPUMemRequest request, CancellationToken cancellationToken = default) =>
        await _calls.OnlineCPUMemAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ReseedRandomDev: Mixes the given bytes into the guest's entropy pool and reseeds its CRNG.</summary>
    public async Task ReseedRandomDevAsync(ReseedRandomDevRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ReseedRandomDevAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>GetGuestDetails: Memory block size, hotplug support and the agent's capabilities.</summary>
    public async Task<GuestDetailsResponse> GetGuestDetailsAsync(GuestDetailsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetGuestDetailsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>MemHotplugByProbe: Probes hot-plugged memory at the given addresses.</summary>
    public async Task MemHotplugByProbeAsync(MemHotplugByProbeRequest request, CancellationToken cancellationToken = default) =>
        await _calls.MemHotplugByProbeAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>SetGuestDateTime: Sets the guest's clock.</summary>
    public async Task SetGuestDateTimeAsync(SetGuestDateTimeRequest request, CancellationToken cancellationToken = default) =>
        await _calls.SetGuestDateTimeAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>CopyFile: Writes a chunk of a file (or a directory, or a symlink) into the guest below /run/kata-containers; the file appears when its last chunk arrives.</summary>
    public async Task CopyFileAsync(CopyFileRequest request, CancellationToken cancellationToken = default) =>
        await _calls.CopyFileAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>AddSwap: Enables a hot-plugged block device as swap.</summary>
    public async Task AddSwapAsync(AddSwapRequest request, CancellationToken cancellationToken = default) =>
        await _calls.AddSwapAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>AddSwapPath: Enables swap on a guest path.</summary>
    public async Task AddSwapPathAsync(AddSwapPathRequest request, CancellationToken cancellationToken = default) =>
        await _calls.AddSwapPathAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>Health.Check: whether the agent is serving.</summary>
    public async Task<HealthCheckResponse> CheckAsync(CancellationToken cancellationToken = default) =>
        await Health.CheckAsync(new CheckRequest(), Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>Health.Version: the agent's version and the API version it speaks.</summary>
    public async Task<VersionCheckResponse> VersionAsync(CancellationToken cancellationToken = default) =>
        await Health.VersionAsync(new CheckRequest(), Call(cancellationToken)).ConfigureAwait(false);
}
