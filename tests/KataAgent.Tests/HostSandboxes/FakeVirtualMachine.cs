using System.Globalization;
using KataAgent.Host.Vm;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// A VM for the sandbox's ordering tests: no qemu, every call written to a shared log, disks kept in a table by
/// PCI path. Disposing deletes the state directory once stopped, as <see cref="QemuVm"/> does; closing does not.
/// </summary>
internal sealed class FakeVirtualMachine(string stateDirectory, List<string> log) : IVirtualMachine
{
    private readonly Dictionary<string, string> _disks = new(StringComparer.Ordinal);
    private readonly List<QemuSharedDirectory> _shares = [];
    private int _nextPort;

    public string StateDirectory { get; } = stateDirectory;

    public bool Detached { get; init; }

    public bool IsRunning { get; private set; } = true;

    public TimeSpan BootToReady => TimeSpan.FromSeconds(1);

    public IReadOnlyList<string> NetworkPciPaths => [];

    /// <summary>When set, RemoveDiskAsync fails as a guest that does not let go of the disk.</summary>
    public Exception? RemoveDiskFailure { get; set; }

    public IReadOnlyCollection<string> AttachedImages => _disks.Values;

    public Task<string> AddDiskAsync(QemuDisk disk, CancellationToken cancellationToken)
    {
        string pciPath = (0x10 + _nextPort++).ToString("x2", CultureInfo.InvariantCulture) + "/00";
        _disks[pciPath] = disk.ImagePath;
        log.Add($"AddDisk {Path.GetFileName(disk.ImagePath)}");
        return Task.FromResult(pciPath);
    }

    public Task RemoveDiskAsync(string pciPath, CancellationToken cancellationToken)
    {
        log.Add($"RemoveDisk {pciPath}");
        if (RemoveDiskFailure is { } failure)
        {
            return Task.FromException(failure);
        }
        _disks.Remove(pciPath);
        return Task.CompletedTask;
    }

    public IReadOnlyList<QemuSharedDirectory> SharedDirectories => [.. _shares];

    public TaskCompletionSource<VirtiofsdExit> VirtiofsdFailureSource { get; } = new();

    public Task<VirtiofsdExit> VirtiofsdFailure => VirtiofsdFailureSource.Task;

    public Task AddSharedDirectoryAsync(QemuSharedDirectory share, CancellationToken cancellationToken)
    {
        log.Add($"AddSharedDirectory {share.Tag}");
        _shares.Add(share);
        return Task.CompletedTask;
    }

    public Task RemoveSharedDirectoryAsync(string tag, CancellationToken cancellationToken)
    {
        log.Add($"RemoveSharedDirectory {tag}");
        _shares.RemoveAll(s => s.Tag == tag);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<QemuAttachedDisk>> QueryDisksAsync(CancellationToken cancellationToken)
    {
        log.Add("QueryDisks");
        return Task.FromResult<IReadOnlyList<QemuAttachedDisk>>([.. _disks.Select(d => new QemuAttachedDisk(d.Key, d.Value, false))]);
    }

    /// <summary>The VM's size: what QuerySizeAsync reports and AddCpu/AddMemory grow, as qemu would.</summary>
    public QemuVmSize Size { get; set; } = new(Cpus: 1, MaxCpus: 1, MemoryMiB: 512, MaxMemoryMiB: 512, Dimms: 0, MemorySlots: 0);

    /// <summary>When set, each hot-plug call awaits it first: a slow qemu, so that concurrent callers overlap.</summary>
    public Func<Task>? HotplugDelay { get; set; }

    public Task<QemuVmSize> QuerySizeAsync(CancellationToken cancellationToken) => Task.FromResult(Size);

    public async Task<int> AddCpuAsync(CancellationToken cancellationToken)
    {
        if (HotplugDelay is { } delay)
        {
            await delay();
        }
        if (Size.Cpus >= Size.MaxCpus)
        {
            throw new VmException("every CPU slot of the VM is taken");
        }
        Size = Size with { Cpus = Size.Cpus + 1 };
        log.Add($"AddCpu -> {Size.Cpus}");
        return Size.Cpus;
    }

    public async Task<string> AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken)
    {
        if (HotplugDelay is { } delay)
        {
            await delay();
        }
        if (Size.Dimms >= Size.MemorySlots || Size.MemoryMiB + sizeMiB > Size.MaxMemoryMiB)
        {
            throw new QmpException("device_add", "GenericError", "no room for the DIMM");
        }
        Size = Size with { MemoryMiB = Size.MemoryMiB + sizeMiB, Dimms = Size.Dimms + 1 };
        log.Add($"AddMemory {sizeMiB}");
        string id = $"dimm{_nextDimm++}";
        _dimms.Add(new QemuDimm(id, "mem" + id[4..], sizeMiB));
        return id;
    }

    private readonly List<QemuDimm> _dimms = [];
    private int _nextDimm;

    /// <summary>As a KVM VM when set; a TCG one keeps offlined vCPUs plugged.</summary>
    public bool CanUnplugCpus { get; set; }

    public Task<int> RemoveCpuAsync(CancellationToken cancellationToken)
    {
        if (Size.Cpus <= Size.BootCpus)
        {
            throw new VmException("no hot-plugged vCPU to remove");
        }
        Size = Size with { Cpus = Size.Cpus - 1 };
        log.Add($"RemoveCpu -> {Size.Cpus}");
        return Task.FromResult(Size.Cpus);
    }

    public Task<IReadOnlyList<QemuDimm>> QueryDimmsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<QemuDimm>>([.. _dimms]);

    public Task RemoveMemoryAsync(string dimmId, CancellationToken cancellationToken)
    {
        var dimm = _dimms.Single(d => d.Id == dimmId);
        _dimms.Remove(dimm);
        Size = Size with { MemoryMiB = Size.MemoryMiB - dimm.SizeMiB, Dimms = Size.Dimms - 1 };
        log.Add($"RemoveMemory {dimmId}");
        return Task.CompletedTask;
    }

    public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        log.Add($"Stop grace={grace.TotalSeconds:0}s");
        IsRunning = false;
        return Task.CompletedTask;
    }

    public ValueTask CloseAsync()
    {
        log.Add("Close");
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        log.Add("Dispose");
        if (!IsRunning && Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        return ValueTask.CompletedTask;
    }
}
