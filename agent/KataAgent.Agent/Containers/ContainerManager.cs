using KataAgent.Protocols;
using System.Collections.Concurrent;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Storage;
using KataAgent.Agent.Storage.SharedFs;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;
using KataAgent.Protocols.Guest;

namespace KataAgent.Agent.Containers;

/// <summary>
/// The sandbox's containers: create, start, exec, signal, wait, remove. Validation happens before
/// any side effect; a failed create leaves nothing behind.
/// </summary>
public sealed class ContainerManager(ProcessReaper reaper, SandboxNamespaces sandbox, SandboxPause pause, StorageManager storage, ILogger<ContainerManager> logger, ContainerStartGuard? startGuard = null)
{
    /// <summary>Who else decides whether a container may start (a pod's start gate), and hears of every start.</summary>
    public ContainerStartGuard StartGuard { get; } = startGuard ?? new ContainerStartGuard();

    /// <summary>The cgroup2 mount (/sys/fs/cgroup in the guest); null when there is none.</summary>
    private readonly string? _cgroupRoot = Cgroup2Mount.Find();
    private readonly System.Threading.Channels.Channel<string> _oomEvents = System.Threading.Channels.Channel.CreateUnbounded<string>();

    private const int ExecNamespaces = Libc.CLONE_NEWNS | Libc.CLONE_NEWUTS | Libc.CLONE_NEWIPC | Libc.CLONE_NEWPID | Libc.CLONE_NEWCGROUP;

    private readonly ConcurrentDictionary<string, Container> _containers = new();
    private readonly ConcurrentDictionary<string, byte> _creating = new();

    public int Count => _containers.Count;

    /// <summary>
    /// Creates a container: its storages are mounted first (the rootfs and bind mount sources may be on them), and
    /// released again when anything after that fails. <paramref name="sandboxPidns"/> is CreateContainer's: join
    /// the sandbox's shared PID namespace (see <see cref="SpecTranslator.ForCreate"/>). The sandbox's first container
    /// becomes its infra container, whose PID namespace later containers with sandbox_pidns join when CreateSandbox
    /// started no pause process (as Kata's agent does). In a sandbox (after CreateSandbox) whose PID namespace nobody
    /// holds yet, sandbox_pidns starts the pause process and the container joins it: the pod's PID namespace then
    /// outlives every container in it (the infra container's exit would kill them all).
    /// </summary>
    public async Task CreateAsync(string containerId, string execId, Protocols.Agent.Spec? spec, IReadOnlyList<Protocols.Agent.Storage> storages, bool sandboxPidns, CancellationToken cancellationToken)
    {
        (spec, string rootfs) = Check(containerId, execId, spec, storages);
        InitConfig config = SpecTranslator.ForCreate(spec, rootfs, sandbox, sandboxPidns, otherContainers: !_containers.IsEmpty);
        if (sandboxPidns && sandbox.PidPath is null && sandbox.UtsPath is not null)
        {
            // The spec is valid (checked just above) before anything is started for it.
            await pause.EnsureStartedAsync(forEveryContainer: false, cancellationToken).ConfigureAwait(false);
            config = SpecTranslator.ForCreate(spec, rootfs, sandbox, sandboxPidns, otherContainers: !_containers.IsEmpty);
        }
        if (_containers.ContainsKey(containerId) || !_creating.TryAdd(containerId, 0))
        {
            throw AgentException.AlreadyExists("container_id", $"container '{containerId}' already exists");
        }
        IReadOnlyList<string> mounted = [];
        CgroupV2Manager? cgroup = null;
        OomWatcher? oomWatcher = null;
        try
        {
            mounted = await storage.MountAsync(storages, "storages", cancellationToken).ConfigureAwait(false);
            if (!Directory.Exists(rootfs))
            {
                throw AgentException.InvalidArgument("OCI.Root.Path", $"the rootfs '{rootfs}' does not exist");
            }
            SpecTranslator.RequireBindSources(spec);
            cgroup = CreateCgroup(containerId, spec.Linux);
            oomWatcher = WatchOom(containerId, cgroup);
            var consoleSize = ((ushort)(spec.Process.ConsoleSize?.Height ?? 0), (ushort)(spec.Process.ConsoleSize?.Width ?? 0));
            var init = await Spawn(execId, config, consoleSize, cgroup, cancellationToken).ConfigureAwait(false);
            var container = new Container(containerId, rootfs, init, ExecNamespaces | (config.UnshareFlags & Libc.CLONE_NEWNET), cgroup, oomWatcher, mounted)
            {
                SharePaths = ShareSubmounts.Of(rootfs, spec),
            };
            container.TerminationLog = Diagnostics.TerminationLog.From(spec);
            bool first = _containers.IsEmpty;
            _containers[containerId] = container;
            if (first)
            {
                sandbox.OfferInfraContainer(containerId, init.Pid);
            }
            logger.LogInformation("container {Id} created, init pid {Pid}", containerId, init.Pid);
        }
        catch
        {
            oomWatcher?.Dispose();
            DestroyCgroup(cgroup);
            // The checks above crossed the share's submounts of the rootfs and bind sources (automounts): they go too.
            ShareSubmounts.Detach(ShareSubmounts.Of(rootfs, spec), logger);
            storage.Release(mounted);
            throw;
        }
        finally
        {
            _creating.TryRemove(containerId, out _);
        }
    }

    /// <summary>
    /// Every check CreateAsync makes before it touches anything (ids, the spec, the storages), without creating:
    /// for callers that create several containers as one transaction and refuse a bad one before the first is made.
    /// Errors name the CreateContainerRequest's fields, as CreateAsync's do.
    /// </summary>
    public static void Validate(string containerId, string execId, Protocols.Agent.Spec? spec, IReadOnlyList<Protocols.Agent.Storage> storages)
    {
        (spec, string rootfs) = Check(containerId, execId, spec, storages);
        SpecTranslator.ForCreate(spec, rootfs);
    }

    /// <summary>The checks of a create that need no state; returns the spec as it will be used and its rootfs.</summary>
    private static (Protocols.Agent.Spec Spec, string Rootfs) Check(string containerId, string execId, Protocols.Agent.Spec? spec, IReadOnlyList<Protocols.Agent.Storage> storages)
    {
        RequireId("container_id", containerId);
        if (execId.Length > 0)
        {
            RequireId("exec_id", execId);
        }
        if (spec is null)
        {
            throw AgentException.InvalidArgument("OCI", "is missing");
        }
        string rootfs = ResolveRootfs(containerId, spec.Root?.Path ?? "");
        StorageManager.Validate(storages, "storages");
        return (Images.GuestPullSandbox.Apply(spec, storages), rootfs);
    }

    /// <summary>
    /// Starts a created container's workload, unless <see cref="StartGuard"/> holds it (FAILED_PRECONDITION with the
    /// holder's reason): the one path every start takes, Kata's StartContainer and the Pods service's StartPod alike.
    /// </summary>
    public async Task StartAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = Get(containerId);
        if (StartGuard.Refusal(containerId) is { } refusal)
        {
            throw AgentException.FailedPrecondition("container_id", $"container '{containerId}' may not start: {refusal}");
        }
        lock (container)
        {
            if (container.State != ContainerState.Created)
            {
                throw AgentException.FailedPrecondition("container_id", $"container '{containerId}' is {container.State.ToString().ToLowerInvariant()}, not created");
            }
            container.State = ContainerState.Running;
        }
        try
        {
            await container.Init.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            container.State = ContainerState.Stopped;
            throw AgentException.Internal($"start of container '{containerId}' failed: {e.Message}", e);
        }
        container.StartedAt = DateTimeOffset.UtcNow;
        _ = container.Init.Exited.ContinueWith(_ =>
        {
            container.FinishedAt = DateTimeOffset.UtcNow;
            container.State = ContainerState.Stopped;
        }, TaskScheduler.Default);
        StartGuard.OnStarted(containerId);
    }

    public async Task ExecAsync(string containerId, string execId, Protocols.Agent.Process? process, CancellationToken cancellationToken)
    {
        RequireId("exec_id", execId);
        var container = Get(containerId);
        if (process is null)
        {
            throw AgentException.InvalidArgument("process", "is missing");
        }
        if (container.State != ContainerState.Running || container.Init.HasExited)
        {
            throw AgentException.FailedPrecondition("container_id", $"container '{containerId}' is not running");
        }
        if (container.Find(execId) is not null)
        {
            throw AgentException.AlreadyExists("exec_id", $"process '{execId}' already exists in container '{containerId}'");
        }
        InitConfig config = SpecTranslator.ForProcess(process, "process", "exec");
        config.JoinPid = container.Init.Pid;
        config.JoinPidFlags = container.NamespaceFlags;
        var consoleSize = ((ushort)(process.ConsoleSize?.Height ?? 0), (ushort)(process.ConsoleSize?.Width ?? 0));
        var spawned = await Spawn(execId, config, consoleSize, container.Cgroup, cancellationToken).ConfigureAwait(false);
        if (!container.TryAdd(spawned))
        {
            spawned.Signal(Libc.SIGKILL);
            await spawned.DisposeAsync().ConfigureAwait(false);
            throw AgentException.AlreadyExists("exec_id", $"process '{execId}' already exists in container '{containerId}'");
        }
        logger.LogInformation("exec {ExecId} in container {Id}, pid {Pid}", execId, containerId, spawned.Pid);
    }

    /// <summary>Signals one process, or every process of the container when <paramref name="execId"/> is empty.</summary>
    public void Signal(string containerId, string execId, uint signal)
    {
        if (signal is 0 or > 64)
        {
            throw AgentException.InvalidArgument("signal", $"{signal} is not a signal number (1..64)");
        }
        var container = Get(containerId);
        if (execId.Length == 0)
        {
            foreach (var process in container.Processes.Reverse())
            {
                process.Signal((int)signal);
            }
            return;
        }
        var target = GetProcess(container, execId);
        if (!target.Signal((int)signal))
        {
            throw AgentException.FailedPrecondition("exec_id", $"process '{execId}' of container '{containerId}' has already exited");
        }
    }

    public async Task<int> WaitAsync(string containerId, string execId, CancellationToken cancellationToken)
    {
        var process = GetProcess(Get(containerId), execId);
        return await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public ContainerProcess Process(string containerId, string execId) => GetProcess(Get(containerId), execId);

    /// <summary>Kills every process, waits up to <paramref name="timeout"/> (0: for ever) and forgets the container.</summary>
    public async Task RemoveAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var container = Get(containerId);
        foreach (var process in container.Processes)
        {
            process.Signal(Libc.SIGKILL);
        }
        var exits = Task.WhenAll(container.Processes.Select(p => p.Exited));
        try
        {
            if (timeout > TimeSpan.Zero)
            {
                await exits.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await exits.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
            throw AgentException.DeadlineExceeded(null, $"container '{containerId}': processes still running after {timeout.TotalSeconds:0} s");
        }
        _containers.TryRemove(containerId, out _);
        sandbox.ContainerRemoved(containerId);
        container.OomWatcher?.Dispose();
        await container.DisposeProcessesAsync().ConfigureAwait(false);
        DestroyCgroup(container.Cgroup);
        ShareSubmounts.Detach(container.SharePaths, logger);
        storage.Release(container.Storages);
        logger.LogInformation("container {Id} removed", containerId);
    }

    /// <summary>Removes every container (DestroySandbox).</summary>
    public async Task RemoveAllAsync(CancellationToken cancellationToken)
    {
        foreach (string id in _containers.Keys.ToList())
        {
            await RemoveAsync(id, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Applies new resource limits to a running container's cgroup.</summary>
    public void Update(string containerId, Protocols.Agent.LinuxResources? resources)
    {
        if (resources is null)
        {
            throw AgentException.InvalidArgument("resources", "is missing");
        }
        var cgroup = RequireCgroup(Get(containerId));
        foreach (string warning in cgroup.Update(resources))
        {
            logger.LogInformation("container {Id}: {Warning}", containerId, warning);
        }
    }

    public Protocols.Agent.CgroupStats Stats(string containerId) => RequireCgroup(Get(containerId)).Stats();

    /// <summary>Whether a container of this id exists (created, not yet removed).</summary>
    public bool Contains(string containerId) => _containers.ContainsKey(containerId);

    /// <summary>The sandbox's statistics: the cgroup root the containers are placed under (<see cref="SandboxStatsReader"/>).</summary>
    public Protocols.Agent.CgroupStats SandboxStats() => _cgroupRoot is null
        ? throw AgentException.FailedPrecondition(null, "this kernel has no cgroup2 hierarchy to read the sandbox's statistics from")
        : SandboxStatsReader.Read(_cgroupRoot);

    public void Pause(string containerId)
    {
        var container = Get(containerId);
        lock (container)
        {
            if (container.State != ContainerState.Running)
            {
                throw AgentException.FailedPrecondition("container_id", $"container '{containerId}' is {container.State.ToString().ToLowerInvariant()}, not running");
            }
            RequireCgroup(container).Freeze();
            container.State = ContainerState.Paused;
        }
    }

    public void Resume(string containerId)
    {
        var container = Get(containerId);
        lock (container)
        {
            if (container.State != ContainerState.Paused)
            {
                throw AgentException.FailedPrecondition("container_id", $"container '{containerId}' is {container.State.ToString().ToLowerInvariant()}, not paused");
            }
            RequireCgroup(container).Thaw();
            container.State = ContainerState.Running;
        }
    }

    /// <summary>Long poll: the id of the next container with an OOM kill.</summary>
    public async Task<string> NextOomEventAsync(CancellationToken cancellationToken) =>
        await _oomEvents.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    private CgroupV2Manager? CreateCgroup(string containerId, Protocols.Agent.Linux? linux)
    {
        if (_cgroupRoot is null)
        {
            if (linux?.Resources is not null)
            {
                throw AgentException.InvalidArgument("OCI.Linux.Resources", "this kernel has no cgroup2 hierarchy to apply them to");
            }
            return null;
        }
        var cgroup = CgroupV2Manager.ForContainer(containerId, linux?.CgroupsPath is { Length: > 0 } path ? path : null, _cgroupRoot);
        cgroup.Create();
        if (linux?.Resources is { } resources)
        {
            try
            {
                foreach (string warning in cgroup.Apply(resources))
                {
                    logger.LogInformation("container {Id}: {Warning}", containerId, warning);
                }
            }
            catch
            {
                DestroyCgroup(cgroup);
                throw;
            }
        }
        return cgroup;
    }

    private OomWatcher? WatchOom(string containerId, CgroupV2Manager? cgroup)
    {
        if (cgroup is null || !File.Exists(Path.Combine(cgroup.CgroupDirectory, "memory.events")))
        {
            return null;
        }
        return cgroup.WatchOom(containerId, id => _oomEvents.Writer.TryWrite(id));
    }

    private void DestroyCgroup(CgroupV2Manager? cgroup)
    {
        if (cgroup is null)
        {
            return;
        }
        try
        {
            cgroup.Destroy();
        }
        catch (CgroupException e)
        {
            logger.LogWarning("removing cgroup {Path}: {Error}", cgroup.CgroupDirectory, e.Message);
        }
    }

    private static CgroupV2Manager RequireCgroup(Container container) =>
        container.Cgroup ?? throw AgentException.FailedPrecondition(null, $"container '{container.Id}' has no cgroup (no cgroup2 hierarchy in this kernel)");

    public Container Get(string containerId)
    {
        RequireId("container_id", containerId);
        return _containers.TryGetValue(containerId, out var container)
            ? container
            : throw AgentException.NotFound("container_id", $"no container '{containerId}'");
    }

    private static ContainerProcess GetProcess(Container container, string execId) =>
        container.Find(execId) ?? throw AgentException.NotFound("exec_id", $"no process '{execId}' in container '{container.Id}'");

    private Task<ContainerProcess> Spawn(string execId, InitConfig config, (ushort, ushort) consoleSize, CgroupV2Manager? cgroup, CancellationToken cancellationToken) =>
        ContainerProcess.SpawnAsync(execId, config, consoleSize, reaper, pid => cgroup?.AddProcess(pid), cancellationToken);

    /// <summary>OCI Root.Path: absolute as given, or relative to the bundle directory Kata lays out.</summary>
    private static string ResolveRootfs(string containerId, string rootPath)
    {
        if (rootPath.Length == 0)
        {
            throw AgentException.InvalidArgument("OCI.Root.Path", "is empty");
        }
        if (rootPath.Contains('\0'))
        {
            throw AgentException.InvalidArgument("OCI.Root.Path", "contains a NUL byte");
        }
        string bundle = Path.Combine(GuestLayout.RunDirectory, containerId);
        string full = Path.GetFullPath(rootPath.StartsWith('/') ? rootPath : Path.Combine(bundle, rootPath));
        if (!rootPath.StartsWith('/') && !full.StartsWith(bundle + "/", StringComparison.Ordinal))
        {
            throw AgentException.InvalidArgument("OCI.Root.Path", $"'{rootPath}' escapes the bundle directory {bundle}");
        }
        return full;
    }

    private static void RequireId(string field, string id)
    {
        if (ContainerIds.Problem(id) is { } problem)
        {
            throw AgentException.InvalidArgument(field, problem);
        }
    }
}
