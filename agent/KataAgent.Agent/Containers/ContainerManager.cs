using System.Collections.Concurrent;
using Grpc.Core;
using KataAgent.Agent.Containers.Init;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Containers.Spec;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Containers;

/// <summary>
/// The sandbox's containers: create, start, exec, signal, wait, remove. Validation happens before
/// any side effect; a failed create leaves nothing behind.
/// </summary>
public sealed class ContainerManager(ProcessReaper reaper, ILogger<ContainerManager> logger)
{
    /// <summary>Where Kata's runtime lays out bundles in the guest: /run/kata-containers/ID/rootfs.</summary>
    public const string BundleRoot = "/run/kata-containers";

    private const int ExecNamespaces = Libc.CLONE_NEWNS | Libc.CLONE_NEWUTS | Libc.CLONE_NEWIPC | Libc.CLONE_NEWPID | Libc.CLONE_NEWCGROUP;

    private readonly ConcurrentDictionary<string, Container> _containers = new();
    private readonly ConcurrentDictionary<string, byte> _creating = new();

    public int Count => _containers.Count;

    public async Task CreateAsync(string containerId, string execId, Protocols.Agent.Spec? spec, CancellationToken cancellationToken)
    {
        RequireId("container_id", containerId);
        if (execId.Length > 0)
        {
            RequireId("exec_id", execId);
        }
        if (spec is null)
        {
            throw Invalid("OCI", "is missing");
        }
        string rootfs = ResolveRootfs(containerId, spec.Root?.Path ?? "");
        if (!Directory.Exists(rootfs))
        {
            throw Invalid("OCI.Root.Path", $"the rootfs '{rootfs}' does not exist");
        }
        InitConfig config = Translate(() => SpecTranslator.ForCreate(spec, rootfs));
        if (_containers.ContainsKey(containerId) || !_creating.TryAdd(containerId, 0))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"container_id: container '{containerId}' already exists"));
        }
        try
        {
            var consoleSize = ((ushort)(spec.Process.ConsoleSize?.Height ?? 0), (ushort)(spec.Process.ConsoleSize?.Width ?? 0));
            var init = await Spawn(execId, config, consoleSize, cancellationToken).ConfigureAwait(false);
            var container = new Container(containerId, rootfs, init, ExecNamespaces | (config.UnshareFlags & Libc.CLONE_NEWNET));
            _containers[containerId] = container;
            logger.LogInformation("container {Id} created, init pid {Pid}", containerId, init.Pid);
        }
        finally
        {
            _creating.TryRemove(containerId, out _);
        }
    }

    public async Task StartAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = Get(containerId);
        lock (container)
        {
            if (container.State != ContainerState.Created)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container_id: container '{containerId}' is {container.State.ToString().ToLowerInvariant()}, not created"));
            }
            container.State = ContainerState.Running;
        }
        try
        {
            await container.Init.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerProcessException e)
        {
            container.State = ContainerState.Stopped;
            throw new RpcException(new Status(StatusCode.Internal, $"start of container '{containerId}' failed: {e.Message}"));
        }
        _ = container.Init.Exited.ContinueWith(_ => container.State = ContainerState.Stopped, TaskScheduler.Default);
    }

    public async Task ExecAsync(string containerId, string execId, Protocols.Agent.Process? process, CancellationToken cancellationToken)
    {
        RequireId("exec_id", execId);
        var container = Get(containerId);
        if (process is null)
        {
            throw Invalid("process", "is missing");
        }
        if (container.State != ContainerState.Running || container.Init.HasExited)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container_id: container '{containerId}' is not running"));
        }
        if (container.Find(execId) is not null)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"exec_id: process '{execId}' already exists in container '{containerId}'"));
        }
        InitConfig config = Translate(() => SpecTranslator.ForProcess(process, "process", "exec"));
        config.JoinPid = container.Init.Pid;
        config.JoinPidFlags = container.NamespaceFlags;
        var consoleSize = ((ushort)(process.ConsoleSize?.Height ?? 0), (ushort)(process.ConsoleSize?.Width ?? 0));
        var spawned = await Spawn(execId, config, consoleSize, cancellationToken).ConfigureAwait(false);
        if (!container.TryAdd(spawned))
        {
            spawned.Signal(Libc.SIGKILL);
            await spawned.DisposeAsync().ConfigureAwait(false);
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"exec_id: process '{execId}' already exists in container '{containerId}'"));
        }
        logger.LogInformation("exec {ExecId} in container {Id}, pid {Pid}", execId, containerId, spawned.Pid);
    }

    /// <summary>Signals one process, or every process of the container when <paramref name="execId"/> is empty.</summary>
    public void Signal(string containerId, string execId, uint signal)
    {
        if (signal is 0 or > 64)
        {
            throw Invalid("signal", $"{signal} is not a signal number (1..64)");
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
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"exec_id: process '{execId}' of container '{containerId}' has already exited"));
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
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"container '{containerId}': processes still running after {timeout.TotalSeconds:0} s"));
        }
        _containers.TryRemove(containerId, out _);
        await container.DisposeProcessesAsync().ConfigureAwait(false);
        logger.LogInformation("container {Id} removed", containerId);
    }

    public Container Get(string containerId)
    {
        RequireId("container_id", containerId);
        return _containers.TryGetValue(containerId, out var container)
            ? container
            : throw new RpcException(new Status(StatusCode.NotFound, $"container_id: no container '{containerId}'"));
    }

    private static ContainerProcess GetProcess(Container container, string execId) =>
        container.Find(execId) ?? throw new RpcException(new Status(StatusCode.NotFound, $"exec_id: no process '{execId}' in container '{container.Id}'"));

    private async Task<ContainerProcess> Spawn(string execId, InitConfig config, (ushort, ushort) consoleSize, CancellationToken cancellationToken)
    {
        try
        {
            return await ContainerProcess.SpawnAsync(execId, config, consoleSize, reaper, _ => { }, cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerProcessException e)
        {
            throw new RpcException(new Status(StatusCode.Internal, e.Message));
        }
    }

    /// <summary>OCI Root.Path: absolute as given, or relative to the bundle directory Kata lays out.</summary>
    private static string ResolveRootfs(string containerId, string rootPath)
    {
        if (rootPath.Length == 0)
        {
            throw Invalid("OCI.Root.Path", "is empty");
        }
        if (rootPath.Contains('\0'))
        {
            throw Invalid("OCI.Root.Path", "contains a NUL byte");
        }
        string bundle = Path.Combine(BundleRoot, containerId);
        string full = Path.GetFullPath(rootPath.StartsWith('/') ? rootPath : Path.Combine(bundle, rootPath));
        if (!rootPath.StartsWith('/') && !full.StartsWith(bundle + "/", StringComparison.Ordinal))
        {
            throw Invalid("OCI.Root.Path", $"'{rootPath}' escapes the bundle directory {bundle}");
        }
        return full;
    }

    private static InitConfig Translate(Func<InitConfig> translate)
    {
        try
        {
            return translate();
        }
        catch (SpecException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    private static void RequireId(string field, string id)
    {
        if (ContainerId.Problem(id) is { } problem)
        {
            throw Invalid(field, problem);
        }
    }

    private static RpcException Invalid(string field, string problem) => new(new Status(StatusCode.InvalidArgument, $"{field}: {problem}"));
}
