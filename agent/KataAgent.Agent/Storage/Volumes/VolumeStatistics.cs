using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Csi;

namespace KataAgent.Agent.Storage.Volumes;

/// <summary>
/// GetVolumeStats: the filesystem holding a volume's guest path, as CSI's NodeGetVolumeStats reports
/// it (csi.VolumeStatsResponse): one usage in bytes, one in inodes, and a condition. Kata's agent
/// answers the same two usages and "OK" when the path opens; like kubelet, "available" is what an
/// unprivileged writer may still use (f_bavail), so ext4's reserved blocks count as used by nobody
/// and as available to nobody.
/// </summary>
public static unsafe class VolumeStatistics
{
    /// <summary>The statistics of the filesystem <paramref name="guestPath"/> lies on; validates the path first.</summary>
    public static VolumeStatsResponse Read(string guestPath, string field = "volume_guest_path", string allowedRoot = VolumePath.AllowedRoot)
    {
        string path = VolumePath.Validate(guestPath, field, allowedRoot);
        AgentLibc.StatFs stat;
        if (AgentLibc.Statfs(path, &stat) != 0)
        {
            var error = LinuxException.FromLastError($"statfs {path}");
            throw error.Errno == Errno.ENOENT
                ? AgentException.NotFound(field, $"{path} does not exist")
                : error;
        }
        ulong blockSize = (ulong)stat.FragmentSize > 0 ? (ulong)stat.FragmentSize : (ulong)stat.BlockSize;
        var response = new VolumeStatsResponse
        {
            VolumeCondition = new VolumeCondition { Abnormal = false, Message = "OK" },
        };
        response.Usage.Add(new VolumeUsage
        {
            Unit = VolumeUsage.Types.Unit.Bytes,
            Total = stat.Blocks * blockSize,
            Available = stat.BlocksAvailable * blockSize,
            Used = (stat.Blocks - stat.BlocksFree) * blockSize,
        });
        response.Usage.Add(new VolumeUsage
        {
            Unit = VolumeUsage.Types.Unit.Inodes,
            Total = stat.Files,
            Available = stat.FilesFree,
            Used = stat.Files - stat.FilesFree,
        });
        return response;
    }
}
