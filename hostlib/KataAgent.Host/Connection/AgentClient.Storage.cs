using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Csi;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>GetVolumeStats: Usage statistics of a direct-assigned volume.</summary>
    public async Task<VolumeStatsResponse> GetVolumeStatsAsync(VolumeStatsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetVolumeStatsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ResizeVolume: Grows the filesystem of a direct-assigned volume.</summary>
    public async Task ResizeVolumeAsync(ResizeVolumeRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ResizeVolumeAsync(request, Call(cancellationToken)).ConfigureAwait(false);
}
