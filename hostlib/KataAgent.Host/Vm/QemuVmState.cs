namespace KataAgent.Host.Vm;

/// <summary>
/// What <see cref="QemuVm.AttachAsync"/> needs to find a running VM again, kept as vm.json in its state
/// directory: the options it was started with (paths made absolute), qemu's pid and the disks' PCI paths.
/// </summary>
internal sealed record QemuVmState
{
    public required QemuOptions Options { get; init; }

    public required int ProcessId { get; init; }

    public required bool UsesKvm { get; init; }

    public required IReadOnlyList<string> DiskPciPaths { get; init; }
}
