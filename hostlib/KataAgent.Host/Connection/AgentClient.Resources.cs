using System.Globalization;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Csi;

namespace KataAgent.Host;

/// <summary>Typed calls for hot-plugged resources and volumes, built from plain values into Kata's requests.</summary>
public sealed partial class AgentClient
{
    /// <summary>OnlineCPUMem: brings hot-plugged CPUs online until <paramref name="cpus"/> are online in all (0: no CPU check), and every offline memory block unless <paramref name="cpuOnly"/>; with <paramref name="wait"/> the call returns once that is done.</summary>
    public Task OnlineCpusAndMemoryAsync(uint cpus, bool cpuOnly = false, bool wait = true, CancellationToken cancellationToken = default) =>
        OnlineCPUMemAsync(new OnlineCPUMemRequest { NbCpus = cpus, CpuOnly = cpuOnly, Wait = wait }, cancellationToken);

    /// <summary>MemHotplugByProbe: writes each physical address to the guest's memory probe file.</summary>
    public Task ProbeMemoryAsync(IEnumerable<ulong> addresses, CancellationToken cancellationToken = default)
    {
        var request = new MemHotplugByProbeRequest();
        request.MemHotplugProbeAddr.AddRange(addresses);
        return MemHotplugByProbeAsync(request, cancellationToken);
    }

    /// <summary>AddSwap: makes the hot-plugged disk at <paramref name="pciPath"/> (Kata's form, e.g. "10/00", as <see cref="Vm.QemuVm.AddDiskAsync"/> returns it) swap; a blank disk gets a swap header from the agent.</summary>
    public Task AddSwapDeviceAsync(string pciPath, CancellationToken cancellationToken = default)
    {
        var request = new AddSwapRequest();
        request.PCIPath.AddRange(ParsePciPath(pciPath));
        return AddSwapAsync(request, cancellationToken);
    }

    /// <summary>AddSwapPath: makes a guest block device node (/dev/vdX) or a file below /run/kata-containers/ swap.</summary>
    public Task AddSwapByPathAsync(string path, CancellationToken cancellationToken = default) =>
        AddSwapPathAsync(new AddSwapPathRequest { Path = path }, cancellationToken);

    /// <summary>GetVolumeStats: bytes and inodes of the filesystem a volume's guest path is on.</summary>
    public Task<VolumeStatsResponse> GetVolumeStatisticsAsync(string volumeGuestPath, CancellationToken cancellationToken = default) =>
        GetVolumeStatsAsync(new VolumeStatsRequest { VolumeGuestPath = volumeGuestPath }, cancellationToken);

    /// <summary>ResizeVolume: grows the ext4 filesystem mounted on <paramref name="volumeGuestPath"/> to <paramref name="sizeBytes"/> while it stays mounted.</summary>
    public Task GrowVolumeAsync(string volumeGuestPath, ulong sizeBytes, CancellationToken cancellationToken = default) =>
        ResizeVolumeAsync(new ResizeVolumeRequest { VolumeGuestPath = volumeGuestPath, Size = sizeBytes }, cancellationToken);

    /// <summary>UpdateEphemeralMounts: remounts the tmpfs of an ephemeral storage on <paramref name="mountPoint"/> with a new size, as Kata's runtime does when the sandbox's memory changes.</summary>
    public Task ResizeEphemeralMountAsync(string mountPoint, ulong sizeBytes, CancellationToken cancellationToken = default)
    {
        var storage = new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", MountPoint = mountPoint };
        storage.Options.Add("remount");
        storage.Options.Add("size=" + sizeBytes.ToString(CultureInfo.InvariantCulture));
        var request = new UpdateEphemeralMountsRequest();
        request.Storages.Add(storage);
        return UpdateEphemeralMountsAsync(request, cancellationToken);
    }

    /// <summary>RemoveStaleVirtiofsShareMounts: has the guest revalidate the mounts below its virtio-fs share, dropping those whose host directory is gone.</summary>
    public Task RemoveStaleShareMountsAsync(CancellationToken cancellationToken = default) =>
        RemoveStaleVirtiofsShareMountsAsync(new RemoveStaleVirtiofsShareMountsRequest(), cancellationToken);

    /// <summary>"10/00" → [0x10, 0x00]; throws <see cref="ArgumentException"/> for anything that is not two-digit hex slots.</summary>
    private static uint[] ParsePciPath(string pciPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(pciPath);
        string[] parts = pciPath.Split('/');
        var slots = new uint[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length != 2 || !uint.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out slots[i]) || slots[i] > 0x1f)
            {
                throw new ArgumentException($"'{pciPath}' is not a PCI path: '{parts[i]}' is not a slot of two hex digits up to 1f", nameof(pciPath));
            }
        }
        return slots;
    }
}
