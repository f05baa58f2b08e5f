using System.Text.Json.Serialization;

namespace KataAgent.Host.Vm;

/// <summary>
/// What <see cref="QemuVm.AttachAsync"/> needs to find a running VM again, kept as vm.json in its state
/// directory: the options it was started with (paths made absolute), qemu's pid, the disks' PCI paths, the
/// shared directories, and the vsock device chosen at the start (with the guest CID and the detached backend process), which the agent's
/// addresses follow from. Files from before vsock lack those: they read as the serial channel they had.
/// </summary>
internal sealed record QemuVmState
{
    public required QemuOptions Options { get; init; }

    public required int ProcessId { get; init; }

    public required bool UsesKvm { get; init; }

    public required IReadOnlyList<string> DiskPciPaths { get; init; }

    /// <summary>The shares attached now, cold- and hot-plugged: each has a virtiofsd whose pid file is in the state directory.</summary>
    public IReadOnlyList<QemuSharedDirectory> SharedDirectories { get; init; } = [];

    [JsonConverter(typeof(JsonStringEnumConverter<QemuVsockDevice>))]
    public QemuVsockDevice VsockDevice { get; init; }

    public uint GuestCid { get; init; }

    public int? VsockBackendProcessId { get; init; }
}
