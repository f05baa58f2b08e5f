using System.Security.Cryptography;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// A container in an agent, driven through an <see cref="AgentClient"/>: create it from an OCI
/// <see cref="Spec"/> (e.g. <see cref="OciBundle.Spec"/>), start it, exec processes into it, read
/// its stats, pause, resume, update and remove it. Its processes are <see cref="ContainerProcess"/>
/// objects with stdio as .NET streams.
/// </summary>
/// <remarks>
/// Disposing a container handle releases only what it holds on this side (its processes' stdio streams and
/// calls); the container stays in the agent until <see cref="RemoveAsync"/> (or the sandbox's end) removes it.
/// So a handle can be let go of while the container runs on, and <c>await using</c> never has a remote effect.
/// </remarks>
/// <example>
/// <code>
/// await using var agent = await AgentClient.ConnectAsync("unix:///run/kata/agent.sock");
/// await using var container = await Container.CreateAsync(agent, "c1", OciBundle.Load("/bundles/c1").Spec);
/// var copy = container.InitProcess.Stdout.CopyToAsync(Console.OpenStandardOutput());
/// await container.StartAsync();
/// int status = await container.InitProcess.WaitAsync();
/// await copy;
/// await container.RemoveAsync();   // disposing alone would leave it in the agent
/// </code>
/// </example>
public sealed class Container : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<ContainerProcess> _processes = [];
    private bool _disposed;

    private Container(AgentClient client, string id, string initExecId, bool useStreaming, ContainerOptions options, bool ownsOutput = true, ProcessOutputOffsets? resumeInit = null)
    {
        Client = client;
        Id = id;
        Options = options;
        UsesStreaming = useStreaming;
        InitProcess = new ContainerProcess(this, initExecId, useStreaming, options, ownsOutput, resumeInit);
        _processes.Add(InitProcess);
    }

    /// <summary>The processes this handle knows: the init process, then those it started (or a restore gave it), in order.</summary>
    public IReadOnlyList<ContainerProcess> Processes
    {
        get
        {
            lock (_gate)
            {
                return [.. _processes];
            }
        }
    }

    /// <summary>
    /// A handle on a container of a restored sandbox, and on the processes its checkpoint recorded: each resumes its
    /// output at the offsets the checkpointed host had received (null: where the agent's reader left off).
    /// </summary>
    internal static async Task<Container> RestoredAsync(AgentClient client, string id, string initExecId, ProcessOutputOffsets? initOutput,
        IEnumerable<(string ExecId, ProcessOutputOffsets? Output)> execs, ContainerOptions options, CancellationToken cancellationToken)
    {
        bool streaming = await UseStreamingAsync(client, options, cancellationToken).ConfigureAwait(false);
        var container = new Container(client, id, initExecId, streaming, options, ownsOutput: false, initOutput);
        foreach (var (execId, output) in execs)
        {
            container._processes.Add(new ContainerProcess(container, execId, streaming, options, ownsOutput: false, output));
        }
        return container;
    }

    /// <summary>The connection to the agent.</summary>
    public AgentClient Client { get; }

    /// <summary>The container id.</summary>
    public string Id { get; }

    /// <summary>The options this container was created or opened with.</summary>
    public ContainerOptions Options { get; }

    /// <summary>True when its processes' stdio goes over the streaming Attach extension.</summary>
    public bool UsesStreaming { get; }

    /// <summary>The container's init process (the spec's Process); it runs once <see cref="StartAsync"/> has been called.</summary>
    public ContainerProcess InitProcess { get; }

    /// <summary>
    /// Who takes part in removing the container (a <see cref="Sandboxes.Sandbox"/>, which releases its disk);
    /// null: <see cref="RemoveAsync"/> only asks the agent.
    /// </summary>
    internal IContainerOwner? Owner { get; set; }

    /// <summary>A handle on container <paramref name="id"/> without asking the agent anything (the sandbox's tests make theirs so).</summary>
    internal static Container Handle(AgentClient client, string id, string initExecId, ContainerOptions options) =>
        new(client, id, initExecId, useStreaming: false, options);

    /// <summary>RemoveContainer for <paramref name="id"/>, waiting up to <paramref name="timeout"/> rounded up to whole seconds.</summary>
    internal static RemoveContainerRequest RemoveRequest(string id, TimeSpan timeout) =>
        new() { ContainerId = id, Timeout = (uint)Math.Min(uint.MaxValue, Math.Ceiling(timeout.TotalSeconds)) };

    /// <summary>
    /// CreateContainer with <paramref name="spec"/>; the init process waits for
    /// <see cref="StartAsync"/>. Its stdio is attached right away (see
    /// <see cref="ContainerOptions.AttachStdio"/>), so not a byte of its output is missed. The
    /// init process gets the container id as its exec id, as Kata's runtime does.
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused (e.g. INVALID_ARGUMENT naming the spec field, ALREADY_EXISTS).</exception>
    public static Task<Container> CreateAsync(AgentClient client, string id, Spec spec, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(spec);
        return CreateAsync(client, new CreateContainerRequest { ContainerId = id, ExecId = id, OCI = spec }, options, cancellationToken);
    }

    /// <summary>CreateContainer with a full request (devices, storages, shared mounts, …).
    /// An empty <see cref="CreateContainerRequest.ExecId"/> is replaced by the container id.</summary>
    /// <inheritdoc cref="CreateAsync(AgentClient, string, Spec, ContainerOptions?, CancellationToken)"/>
    public static async Task<Container> CreateAsync(AgentClient client, CreateContainerRequest request, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        options ??= new ContainerOptions();
        if (request.ExecId.Length == 0)
        {
            request = request.Clone();
            request.ExecId = request.ContainerId;
        }
        bool streaming = await UseStreamingAsync(client, options, cancellationToken).ConfigureAwait(false);
        await client.CreateContainerAsync(request, cancellationToken).ConfigureAwait(false);
        var container = new Container(client, request.ContainerId, request.ExecId, streaming, options);
        if (options.AttachStdio)
        {
            container.InitProcess.Attach();
        }
        return container;
    }

    /// <summary>
    /// A handle on a container the agent created in a call of its own (kataagent.v1 Pods/CreatePod), not started yet:
    /// as <see cref="CreateAsync(AgentClient, CreateContainerRequest, ContainerOptions?, CancellationToken)"/> leaves it,
    /// the init process's exec id the container id and its stdio attached before it starts.
    /// </summary>
    internal static async Task<Container> AdoptCreatedAsync(AgentClient client, string id, ContainerOptions options, CancellationToken cancellationToken)
    {
        bool streaming = await UseStreamingAsync(client, options, cancellationToken).ConfigureAwait(false);
        var container = new Container(client, id, id, streaming, options);
        if (options.AttachStdio)
        {
            container.InitProcess.Attach();
        }
        return container;
    }

    /// <summary>
    /// A handle on a container that already exists in the agent (created by someone else), to
    /// exec into it, signal, pause or stats it. Nothing is sent to the agent here; the init
    /// process's exec id is empty and its stdio is attached only when used.
    /// </summary>
    public static async Task<Container> OpenAsync(AgentClient client, string id, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(id);
        options ??= new ContainerOptions();
        bool streaming = await UseStreamingAsync(client, options, cancellationToken).ConfigureAwait(false);
        return new Container(client, id, "", streaming, options, ownsOutput: false);
    }

    /// <summary>A random exec id: "exec-" and 12 hex digits.</summary>
    public static string NewExecId() => "exec-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    /// <summary>StartContainer: runs the init process. Its WaitProcess starts here, so its status is kept even if the container is removed right after.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        _ = InitProcess.BeginWait();
        await Client.StartContainerAsync(new StartContainerRequest { ContainerId = Id }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>ExecProcess: starts <paramref name="process"/> in the running container as <paramref name="execId"/>
    /// and attaches its stdio right after (see <see cref="ContainerOptions.AttachStdio"/>).</summary>
    /// <exception cref="AgentStatusException">The agent refused (e.g. FAILED_PRECONDITION: not running, ALREADY_EXISTS: the exec id is taken).</exception>
    public async Task<ContainerProcess> ExecAsync(string execId, Process process, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(execId);
        ArgumentNullException.ThrowIfNull(process);
        await Client.ExecProcessAsync(new ExecProcessRequest { ContainerId = Id, ExecId = execId, Process = process }, cancellationToken).ConfigureAwait(false);
        var started = new ContainerProcess(this, execId, UsesStreaming, Options);
        lock (_gate)
        {
            _processes.Add(started);
        }
        _ = started.BeginWait();
        if (Options.AttachStdio)
        {
            started.Attach();
        }
        return started;
    }

    /// <summary>ExecProcess with a new random exec id (<see cref="NewExecId"/>).</summary>
    public Task<ContainerProcess> ExecAsync(Process process, CancellationToken cancellationToken = default) => ExecAsync(NewExecId(), process, cancellationToken);

    /// <summary>SignalProcess with an empty exec id: signal <paramref name="signal"/> to every process of the container.</summary>
    public async Task SignalAsync(int signal, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(signal);
        await Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = Id, ExecId = "", Signal = (uint)signal }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>StatsContainer: the container's cgroup (and network) statistics.</summary>
    public Task<StatsContainerResponse> StatsAsync(CancellationToken cancellationToken = default) =>
        Client.StatsContainerAsync(new StatsContainerRequest { ContainerId = Id }, cancellationToken);

    /// <summary>PauseContainer: freezes the container's cgroup.</summary>
    public Task PauseAsync(CancellationToken cancellationToken = default) =>
        Client.PauseContainerAsync(new PauseContainerRequest { ContainerId = Id }, cancellationToken);

    /// <summary>ResumeContainer: thaws the container's cgroup.</summary>
    public Task ResumeAsync(CancellationToken cancellationToken = default) =>
        Client.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = Id }, cancellationToken);

    /// <summary>UpdateContainer: applies new cgroup limits to the running container.</summary>
    public Task UpdateAsync(LinuxResources resources, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resources);
        return Client.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = Id, Resources = resources }, cancellationToken);
    }

    /// <summary>
    /// RemoveContainer: the agent kills every process of the container, waits up to
    /// <paramref name="timeout"/> (rounded up to whole seconds; <see cref="TimeSpan.Zero"/> waits
    /// for ever; default <see cref="ContainerOptions.RemoveTimeout"/>) and releases it. Output the
    /// processes wrote before they died still arrives on their streams. A container made by
    /// <see cref="Sandboxes.Sandbox.CreateContainerAsync"/> is removed through its sandbox, which then
    /// hot-unplugs its disk and deletes its image (<see cref="Sandboxes.Sandbox.RemoveContainerAsync"/>).
    /// </summary>
    /// <exception cref="AgentStatusException">The agent refused (e.g. DEADLINE_EXCEEDED: processes still running after the timeout, NOT_FOUND).</exception>
    /// <exception cref="Vm.VmException">A sandbox container's disk was not released by the guest in time (the container is removed).</exception>
    public async Task RemoveAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan wait = timeout ?? Options.RemoveTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero, nameof(timeout));
        if (Owner is { } owner)
        {
            await owner.RemoveContainerAsync(Id, wait, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await Client.RemoveContainerAsync(RemoveRequest(Id, wait), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Detaches every process's stdio (pending reads end, writes fail). The container itself is left as it is
    /// in the agent: only <see cref="RemoveAsync"/> removes it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        ContainerProcess[] processes;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            processes = [.. _processes];
        }
        foreach (var process in processes)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<bool> UseStreamingAsync(AgentClient client, ContainerOptions options, CancellationToken cancellationToken) =>
        options.UseStreaming && await StreamingSupport.IsAvailableAsync(client, cancellationToken).ConfigureAwait(false);
}
