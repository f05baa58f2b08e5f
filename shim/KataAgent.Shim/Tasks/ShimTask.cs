using KataAgent.Host.Containers;
using KataAgent.Protocols.Containerd.Types;

namespace KataAgent.Shim.Tasks;

/// <summary>A task containerd created here: a container in the pod's VM (or, for the sandbox, the VM itself) with its processes.</summary>
internal sealed class ShimTask
{
    private readonly Dictionary<string, ShimProcess> _execs = new(StringComparer.Ordinal);

    public ShimTask(string id, string bundle, PodRole role, ShimProcess init, IReadOnlyList<Mount> rootfs)
    {
        Id = id;
        Bundle = bundle;
        Role = role;
        Init = init;
        Rootfs = rootfs;
    }

    public string Id { get; }

    public string Bundle { get; }

    public PodRole Role { get; }

    /// <summary>The init process.</summary>
    public ShimProcess Init { get; }

    /// <summary>The snapshotter mounts containerd gave (reported again in TaskCreate).</summary>
    public IReadOnlyList<Mount> Rootfs { get; }

    /// <summary>
    /// Whether CRI-O made the task (its spec has <c>io.kubernetes.cri-o.ContainerType</c>): CRI-O learns of an OOM kill
    /// from an <c>oom</c> file in the bundle, not from events.
    /// </summary>
    public bool IsCriO { get; init; }

    /// <summary>The container in the agent; null for the sandbox task (the VM itself).</summary>
    public Container? Container { get; set; }

    /// <summary>Where this shim mounted the rootfs (to be unmounted on Delete), or null.</summary>
    public string? MountedRootfs { get; set; }

    /// <summary>The container's resources as last set (Create's spec, then Update): its share of the VM's size.</summary>
    public KataAgent.Protocols.Agent.LinuxResources? Resources { get; set; }

    /// <summary>Serialises Start, Kill, Delete, Pause and Resume of this task and its execs.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>The exec processes, by containerd's exec id.</summary>
    public IReadOnlyCollection<ShimProcess> Execs
    {
        get
        {
            lock (_execs)
            {
                return [.. _execs.Values];
            }
        }
    }

    /// <summary>The process <paramref name="execId"/> names (empty: init).</summary>
    /// <exception cref="TaskException">No such exec (NotFound).</exception>
    public ShimProcess Process(string execId)
    {
        if (execId.Length == 0)
        {
            return Init;
        }
        lock (_execs)
        {
            return _execs.TryGetValue(execId, out var process)
                ? process
                : throw TaskException.NotFound($"exec {execId} of task {Id} not found");
        }
    }

    /// <summary>Adds an exec.</summary>
    /// <exception cref="TaskException">The id is taken (AlreadyExists).</exception>
    public void AddExec(ShimProcess process)
    {
        lock (_execs)
        {
            if (!_execs.TryAdd(process.ExecId, process))
            {
                throw TaskException.AlreadyExists($"exec {process.ExecId} of task {Id} already exists");
            }
        }
    }

    /// <summary>Forgets an exec.</summary>
    public void RemoveExec(string execId)
    {
        lock (_execs)
        {
            _execs.Remove(execId);
        }
    }
}
