using System.Collections.Concurrent;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Agent.Containers.Processes;

namespace KataAgent.Agent.Containers;

/// <summary>
/// One container: its init process, its exec'd processes, its state. State changes take the
/// container's own lock, held only for bookkeeping and never across a wait, so one slow RPC
/// never blocks another.
/// </summary>
public sealed class Container
{
    private readonly ConcurrentDictionary<string, ContainerProcess> _processes = new();

    internal Container(string id, string rootfs, ContainerProcess init, int namespaceFlags, CgroupV2Manager? cgroup, OomWatcher? oomWatcher, IReadOnlyList<string> storages)
    {
        Storages = storages;
        Id = id;
        Rootfs = rootfs;
        Init = init;
        NamespaceFlags = namespaceFlags;
        Cgroup = cgroup;
        OomWatcher = oomWatcher;
        _processes[init.ExecId] = init;
    }

    /// <summary>The container's cgroup; null where the kernel has no cgroup2 hierarchy.</summary>
    public CgroupV2Manager? Cgroup { get; }

    internal OomWatcher? OomWatcher { get; }

    /// <summary>Mount points of the container's storages, released when it is removed.</summary>
    internal IReadOnlyList<string> Storages { get; }

    /// <summary>The paths inside the virtio-fs share it uses (rootfs, bind sources): the guest's submounts there go with it.</summary>
    internal IReadOnlyList<string> SharePaths { get; init; } = [];

    public string Id { get; }

    public string Rootfs { get; }

    public ContainerProcess Init { get; }

    /// <summary>Where the container's termination message is (GetDiagnosticData).</summary>
    public Diagnostics.TerminationLog TerminationLog { get; internal set; } = new(Diagnostics.TerminationLog.DefaultPath, null);

    /// <summary>CLONE_NEW* flags an exec joins through the init's pidfd.</summary>
    public int NamespaceFlags { get; }

    public ContainerState State { get; internal set; } = ContainerState.Created;

    /// <summary>When its workload was started; null while it is created.</summary>
    public DateTimeOffset? StartedAt { get; internal set; }

    /// <summary>When its init exited (as the agent saw it); null while it runs.</summary>
    public DateTimeOffset? FinishedAt { get; internal set; }

    public IEnumerable<ContainerProcess> Processes => _processes.Values;

    /// <summary>The process with <paramref name="execId"/>; an empty id is the init process, as in Kata.</summary>
    public ContainerProcess? Find(string execId) =>
        execId.Length == 0 ? Init : _processes.TryGetValue(execId, out var process) ? process : null;

    internal bool TryAdd(ContainerProcess process) => _processes.TryAdd(process.ExecId, process);

    internal async Task DisposeProcessesAsync()
    {
        foreach (var process in _processes.Values)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }
    }
}
