using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Storage.SharedFs;
using KataAgent.Agent.Storage.Volumes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Csi;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>RPCs about volumes already mounted in the guest: statistics, online growth, tmpfs resize, share-mount cleanup.</summary>
internal sealed partial class AgentRpcService
{
    public override Task<VolumeStatsResponse> GetVolumeStats(VolumeStatsRequest request, ServerCallContext context) =>
        Task.FromResult(VolumeStatistics.Read(request.VolumeGuestPath));

    public override Task<Empty> ResizeVolume(ResizeVolumeRequest request, ServerCallContext context)
    {
        ulong blocks = Ext4OnlineResizer.Resize(request.VolumeGuestPath, request.Size);
        _logger.LogInformation("ResizeVolume {Path}: grown to {Blocks} blocks ({Size} bytes asked)", request.VolumeGuestPath, blocks, request.Size);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> UpdateEphemeralMounts(UpdateEphemeralMountsRequest request, ServerCallContext context)
    {
        EphemeralMountUpdater.Update(request.Storages, _logger);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> RemoveStaleVirtiofsShareMounts(RemoveStaleVirtiofsShareMountsRequest request, ServerCallContext context)
    {
        StaleShareMounts.Revalidate(_logger);
        return Task.FromResult(new Empty());
    }
}
