using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Events;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// <c>containerd.task.v2.Task</c>: the tasks of one pod (the sandbox and its containers, or one container alone) in
/// one VM.
/// </summary>
/// <remarks>
/// The partial files go by concern: Create (and the VM's boot), the lifecycle (Start, Wait, Kill, Delete, State,
/// Pids), execs and stdio (Exec, ResizePty, CloseIO), resources (Pause, Resume, Update, Stats), Checkpoint, the shim
/// (Connect, Shutdown), the VM's end (death, teardown, OOM events) and the <c>delete</c> action's cleanup. Handlers
/// throw the core's errors; <see cref="Register"/> translates them once (<see cref="TaskStatusMapper"/>).
/// </remarks>
internal sealed partial class TaskService : IAsyncDisposable
{
    /// <summary>The service name on the wire.</summary>
    public const string ServiceName = "containerd.task.v2.Task";

    private readonly ShimArguments _arguments;
    private readonly IEventPublisher _events;
    private readonly IShimLifetime _lifetime;
    private readonly Dictionary<string, ShimTask> _tasks = new(StringComparer.Ordinal);

    /// <summary>Serialises Create, Delete and Shutdown: the task table and the VM change only there.</summary>
    private readonly SemaphoreSlim _tableGate = new(1, 1);

    private PodVm? _vm;

    public TaskService(ShimArguments arguments, IEventPublisher events, IShimLifetime lifetime)
    {
        _arguments = arguments;
        _events = events;
        _lifetime = lifetime;
    }

    /// <summary>Reads the configuration for a Create (a seam: the tests give theirs); by default the file the runtime options name.</summary>
    internal Func<Any?, Config.ShimConfiguration> LoadConfiguration { get; init; } =
        options => Config.ShimConfigurationLoader.Load(Config.ShimConfigurationLoader.Resolve(options));

    /// <summary>The configuration file the runtime options name, for messages (a failure to resolve it is the load's to report).</summary>
    private static string ConfigurationPathOf(Any? options)
    {
        try
        {
            return Config.ShimConfigurationLoader.Resolve(options);
        }
        catch (Config.ShimConfigurationException)
        {
            return "(the shim configuration)";
        }
    }

    /// <summary>Registers every method of the task service on <paramref name="server"/>.</summary>
    public void Register(TtrpcServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        Add(server, "State", StateRequest.Parser, StateAsync);
        Add(server, "Create", CreateTaskRequest.Parser, CreateAsync);
        Add(server, "Start", StartRequest.Parser, StartAsync);
        Add(server, "Delete", DeleteRequest.Parser, DeleteAsync);
        Add(server, "Pids", PidsRequest.Parser, PidsAsync);
        Add(server, "Pause", PauseRequest.Parser, PauseAsync);
        Add(server, "Resume", ResumeRequest.Parser, ResumeAsync);
        Add(server, "Checkpoint", CheckpointTaskRequest.Parser, CheckpointAsync);
        Add(server, "Kill", KillRequest.Parser, KillAsync);
        Add(server, "Exec", ExecProcessRequest.Parser, ExecAsync);
        Add(server, "ResizePty", ResizePtyRequest.Parser, ResizePtyAsync);
        Add(server, "CloseIO", CloseIORequest.Parser, CloseIOAsync);
        Add(server, "Update", UpdateTaskRequest.Parser, UpdateAsync);
        Add(server, "Wait", WaitRequest.Parser, WaitAsync);
        Add(server, "Stats", StatsRequest.Parser, StatsAsync);
        Add(server, "Connect", ConnectRequest.Parser, ConnectAsync);
        Add(server, "Shutdown", ShutdownRequest.Parser, ShutdownAsync);
    }

    /// <summary>The edge: a handler's failure becomes the status containerd maps (never a plain exception on the wire).</summary>
    private static void Add<TRequest, TResponse>(TtrpcServer server, string method, MessageParser<TRequest> parser,
        Func<TRequest, CancellationToken, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        server.AddUnaryMethod<TRequest, TResponse>(ServiceName, method, parser, async (request, context) =>
        {
            try
            {
                return await handler(request, context.CancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not RpcException)
            {
                var status = TaskStatusMapper.ToStatus(e, method);
                if (status.StatusCode is StatusCode.Unknown)
                {
                    ShimLog.Warn($"{method}: {e}");
                }
                throw new RpcException(status);
            }
        });
    }

    /// <summary>The task <paramref name="id"/> names.</summary>
    /// <exception cref="TaskException">No such task (NotFound, as runc answers "container not created").</exception>
    private ShimTask Find(string id)
    {
        lock (_tasks)
        {
            return _tasks.TryGetValue(id, out var task) ? task : throw TaskException.NotFound($"task {id} not found: container not created");
        }
    }

    private ShimTask[] Tasks()
    {
        lock (_tasks)
        {
            return [.. _tasks.Values];
        }
    }

    private static Timestamp Time(DateTimeOffset at) => Timestamp.FromDateTimeOffset(at);

    /// <summary>
    /// When the daemon ends: takes the VM down (if it still runs; it cannot outlive its shim anyway) and unmounts the
    /// rootfs of every task containerd did not delete, so that nothing the shim made is left behind.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_vm is { } vm)
        {
            await StopVmAsync(vm, graceful: false).ConfigureAwait(false);
            await vm.Gone.Task.ConfigureAwait(false);
        }
        foreach (var task in Tasks())
        {
            foreach (var process in task.Execs.Prepend(task.Init))
            {
                await ReleaseAsync(process).ConfigureAwait(false);
            }
            if (task.MountedRootfs is { } rootfs)
            {
                try
                {
                    RootfsMounter.UnmountAll(rootfs);
                    task.MountedRootfs = null;
                    BundleState.Delete(task.Bundle);
                }
                catch (IOException e)
                {
                    // The bundle's state still says what is mounted: the delete action finishes it.
                    ShimLog.Warn($"unmounting the rootfs of {task.Id}: {e.Message}");
                }
            }
        }
    }
}
