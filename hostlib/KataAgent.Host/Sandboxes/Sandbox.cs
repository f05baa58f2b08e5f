using KataAgent.Protocols;
using System.Text.Json;
using Grpc.Core;
using KataAgent.Host.Containers;
using KataAgent.Host.Network;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Guest;

namespace KataAgent.Host.Sandboxes;

/// <summary>
/// A Kata sandbox: one VM (<see cref="QemuVm"/>) whose agent has run CreateSandbox, and the containers in it,
/// each on an ext4 disk packed from a rootfs directory, hot-plugged, and mounted by the agent's <c>blk</c>
/// storage driver. Removing a container (<see cref="Container.RemoveAsync"/> on the handle, or
/// <see cref="RemoveContainerAsync"/>) hot-unplugs its disk and deletes its image, so containers can come and go
/// for ever in one sandbox; <see cref="SandboxOptions.HotplugSlots"/> only limits how many exist at once.
/// Disposing destroys it (containers, sandbox, VM, state directory) unless it is detached.
/// </summary>
public sealed class Sandbox : IAsyncDisposable
{
    /// <summary>How long a destroyed sandbox's VM gets to power itself off before it is told to quit and then killed.</summary>
    private static readonly TimeSpan PowerOffGrace = TimeSpan.FromSeconds(20);

    private const string StateFileName = "agent-sandbox.json";

    /// <summary>The pod network's teardown journal in the state directory (see <see cref="RestoreNetworkAsync"/>).</summary>
    public const string NetworkJournalFileName = "network.json";

    private readonly List<Container> _containers = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _destroyed;

    private Sandbox(string id, QemuVm vm, bool hasDns, NetworkEndpoint? network = null)
    {
        Id = id;
        Vm = vm;
        HasDns = hasDns;
        Network = network;
    }

    /// <summary>Where the agent keeps CreateSandbox's DNS lines in the guest: the source of the containers' /etc/resolv.conf.</summary>
    public const string GuestResolvConfPath = GuestLayout.SandboxResolvConfPath;

    /// <summary>Whether the sandbox was created with <see cref="SandboxOptions.Dns"/>.</summary>
    public bool HasDns { get; }

    /// <summary>The pod network wired into the VM, when <see cref="SandboxOptions.NetworkNamespacePath"/> was given.</summary>
    public NetworkEndpoint? Network { get; }

    /// <summary>The sandbox id.</summary>
    public string Id { get; }

    /// <summary>The VM.</summary>
    public QemuVm Vm { get; }

    /// <summary>The connected agent.</summary>
    public AgentClient Agent => Vm.Agent;

    /// <summary>Time from starting qemu to the agent's first answer (zero for an attached sandbox).</summary>
    public TimeSpan BootToReady => Vm.BootToReady;

    /// <summary>Where the agent mounts container <paramref name="containerId"/>'s rootfs disk (its OCI <c>Root.Path</c>).</summary>
    public static string RootfsMountPoint(string containerId) => GuestLayout.ContainerRootfs(containerId);

    /// <summary>Boots the VM, waits for the agent, and sends CreateSandbox (hostname, sandbox id).</summary>
    /// <exception cref="QemuBootException">The VM or its agent did not come up (with the console tail).</exception>
    public static async Task<Sandbox> StartAsync(SandboxOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ContainerIds.Validate(options.Id, nameof(options.Id));
        for (int i = 0; i < options.Dns.Count; i++)
        {
            if (ResolvConfLines.Problem(options.Dns[i]) is { } problem)
            {
                // The agent refuses it too, but only after the VM has booted.
                throw new ArgumentException($"Dns[{i}] {problem}", nameof(options));
            }
        }
        string hostname = options.Hostname.Length > 0 ? options.Hostname : options.Id;
        // The endpoint comes first: qemu's command line names its taps, descriptors or passt socket. Its changes
        // are journaled in the state directory, so that whoever removes the sandbox can restore the netns: the
        // process that attaches to a detached sandbox, or `kactl rm` after the owner died.
        NetworkEndpoint? network = null;
        if (options.NetworkNamespacePath is { } netns)
        {
            bool madeStateDirectory = !Directory.Exists(options.StateDirectory);
            Directory.CreateDirectory(options.StateDirectory);
            try
            {
                network = await NetworkEndpoint.SetUpAsync(options.NetworkModel, netns, options.StateDirectory, options.PortForwards,
                    Path.Combine(options.StateDirectory, NetworkJournalFileName), cancellationToken).ConfigureAwait(false);
            }
            catch when (madeStateDirectory)
            {
                // The endpoint undid its own changes; the directory made for its journal goes too.
                Directory.Delete(options.StateDirectory, recursive: true);
                throw;
            }
        }
        QemuVm vm;
        try
        {
            vm = await QemuVm.StartAsync(new QemuOptions
            {
                KernelPath = options.KernelPath,
                InitrdPath = options.InitrdPath,
                StateDirectory = options.StateDirectory,
                Cpus = options.Cpus,
                MemoryMiB = options.MemoryMiB,
                KernelArguments = options.KernelArguments,
                DebugConsole = options.DebugConsole,
                Detached = options.Detached,
                HotplugSlots = options.HotplugSlots,
                HotplugTimeout = options.HotplugTimeout,
                UnplugTimeout = options.UnplugTimeout,
                AgentTimeout = options.AgentTimeout,
                NetworkNamespacePath = options.NetworkNamespacePath,
                NetworkDevices = network?.Devices ?? [],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (network is not null)
            {
                await network.TearDownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            throw;
        }
        try
        {
            await vm.Agent.CreateSandboxAsync(new CreateSandboxRequest { Hostname = hostname, SandboxId = options.Id, Dns = { options.Dns } }, cancellationToken).ConfigureAwait(false);
            if (network is not null)
            {
                await ConfigureGuestNetworkAsync(vm, network, cancellationToken).ConfigureAwait(false);
            }
            await using (var stream = File.Create(Path.Combine(vm.StateDirectory, StateFileName)))
            {
                await JsonSerializer.SerializeAsync(stream, new SandboxState { Id = options.Id, Hostname = hostname, HasDns = options.Dns.Count > 0 }, SandboxStateJsonContext.Default.SandboxState, cancellationToken).ConfigureAwait(false);
            }
            return new Sandbox(options.Id, vm, options.Dns.Count > 0, network);
        }
        catch
        {
            await vm.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            await vm.DisposeAsync().ConfigureAwait(false);
            if (network is not null)
            {
                await network.TearDownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>
    /// What Kata's runtime sends after the VM is up (configureGuestNetwork): each NIC by MAC and PCI path
    /// (the agent waits for it) with the pod interface's name, addresses and MTU; then the routes, then
    /// the static neighbours.
    /// </summary>
    private static async Task ConfigureGuestNetworkAsync(QemuVm vm, NetworkEndpoint network, CancellationToken cancellationToken)
    {
        foreach (var nic in network.AgentInterfaces(vm.NetworkPciPaths))
        {
            await vm.Agent.UpdateInterfaceAsync(new UpdateInterfaceRequest { Interface = nic }, cancellationToken).ConfigureAwait(false);
        }
        if (network.Nics.Count == 0)
        {
            return;
        }
        var routes = new Routes();
        routes.Routes_.AddRange(network.AgentRoutes);
        await vm.Agent.UpdateRoutesAsync(new UpdateRoutesRequest { Routes = routes }, cancellationToken).ConfigureAwait(false);
        if (network.AgentNeighbours.Count > 0)
        {
            var neighbours = new ARPNeighbors();
            neighbours.ARPNeighbors_.AddRange(network.AgentNeighbours);
            await vm.Agent.AddARPNeighborsAsync(new AddARPNeighborsRequest { Neighbors = neighbours }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reconnects to a detached sandbox from its state directory.</summary>
    /// <exception cref="InvalidOperationException">No sandbox there, or its VM is no longer running.</exception>
    public static async Task<Sandbox> AttachAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        string stateFile = Path.Combine(stateDirectory, StateFileName);
        SandboxState state;
        try
        {
            await using var stream = File.OpenRead(stateFile);
            state = await JsonSerializer.DeserializeAsync(stream, SandboxStateJsonContext.Default.SandboxState, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{stateFile} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidOperationException($"no sandbox in {stateDirectory}: {stateFile} does not exist", e);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{stateFile} is not a sandbox state file: {e.Message}", e);
        }
        var vm = await QemuVm.AttachAsync(stateDirectory, cancellationToken).ConfigureAwait(false);
        return new Sandbox(state.Id, vm, state.HasDns);
    }

    /// <summary>
    /// Packs <paramref name="rootfsDirectory"/> into an ext4 image in the state directory, hot-plugs it, and
    /// sends CreateContainer with a <c>blk</c> storage for it (found by its PCI path, mounted at
    /// <see cref="RootfsMountPoint"/>) and <paramref name="spec"/>'s <c>Root.Path</c> set to that mount point
    /// (the caller's spec is not changed). The container is created, not started.
    /// </summary>
    /// <exception cref="ArgumentException">The container id is not a safe name.</exception>
    /// <exception cref="RpcException">The agent refused (e.g. the disk did not appear within the hot-plug timeout: DEADLINE_EXCEEDED).</exception>
    public async Task<Container> CreateContainerAsync(string containerId, string rootfsDirectory, Spec spec, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ArgumentNullException.ThrowIfNull(spec);
        ObjectDisposedException.ThrowIf(_destroyed, this);
        string image = DiskImagePath(containerId);
        if (File.Exists(image))
        {
            throw new ArgumentException($"containerId '{containerId}' is already used in sandbox {Id}", nameof(containerId));
        }
        await Ext4Image.CreateAsync(rootfsDirectory, image, cancellationToken).ConfigureAwait(false);
        string pciPath;
        try
        {
            pciPath = await Vm.AddDiskAsync(new QemuDisk(image), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            File.Delete(image);
            throw;
        }
        string mountPoint = RootfsMountPoint(containerId);
        var oci = spec.Clone();
        oci.Root ??= new Root();
        oci.Root.Path = mountPoint;
        if (HasDns && !oci.Mounts.Any(m => m.Destination.TrimEnd('/') == "/etc/resolv.conf"))
        {
            // What kubelet's resolv.conf mount is to a runc container: the pod's DNS, read-only.
            oci.Mounts.Add(new Mount { Destination = "/etc/resolv.conf", Source = GuestResolvConfPath, Type = "bind", Options = { "rbind", "ro", "nosuid", "nodev", "noexec" } });
        }
        var request = new CreateContainerRequest
        {
            ContainerId = containerId,
            ExecId = containerId,
            OCI = oci,
            Storages = { new Storage { Driver = "blk", Source = pciPath, Fstype = "ext4", MountPoint = mountPoint } },
        };
        Container container;
        try
        {
            container = await Container.CreateAsync(Agent, request, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The agent unmounts the storage of a container it failed to create: the disk's slot is reusable.
            await ReleaseDiskQuietlyAsync(containerId).ConfigureAwait(false);
            throw;
        }
        container.AfterRemove = ct => ReleaseDiskAsync(containerId, ct);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _containers.Add(container);
        }
        finally
        {
            _gate.Release();
        }
        return container;
    }

    /// <summary>
    /// A handle on container <paramref name="containerId"/> of this sandbox (see <see cref="Container.OpenAsync"/>),
    /// e.g. one a detached sandbox's earlier owner created. If it was made by <see cref="CreateContainerAsync"/>
    /// (its image is in the state directory's disks/), removing it through the handle releases its disk as well.
    /// </summary>
    public async Task<Container> OpenContainerAsync(string containerId, ContainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ContainerIds.Validate(containerId, nameof(containerId));
        ObjectDisposedException.ThrowIf(_destroyed, this);
        var container = await Container.OpenAsync(Agent, containerId, options, cancellationToken).ConfigureAwait(false);
        if (File.Exists(DiskImagePath(containerId)))
        {
            container.AfterRemove = ct => ReleaseDiskAsync(containerId, ct);
        }
        return container;
    }

    /// <summary>
    /// RemoveContainer for <paramref name="containerId"/> (the agent kills its processes, waits up to
    /// <paramref name="timeout"/>, unmounts its disk), then hot-unplugs the disk and deletes its image: the same
    /// as <see cref="Container.RemoveAsync"/> on the handle <see cref="CreateContainerAsync"/> returned, for when
    /// that handle is not at hand (an attached sandbox).
    /// </summary>
    /// <exception cref="RpcException">The agent refused (NOT_FOUND: no such container; DEADLINE_EXCEEDED: processes outlived the timeout).</exception>
    /// <exception cref="TimeoutException">The guest did not release the disk in time (see <see cref="SandboxOptions.UnplugTimeout"/>).</exception>
    public async Task RemoveContainerAsync(string containerId, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await using var container = await OpenContainerAsync(containerId, new ContainerOptions { AttachStdio = false }, cancellationToken).ConfigureAwait(false);
        await container.RemoveAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    private string DiskImagePath(string containerId) => Path.Combine(Vm.StateDirectory, "disks", containerId + ".ext4");

    /// <summary>
    /// Unplugs container <paramref name="containerId"/>'s disk and deletes its image. The disk is found by its image
    /// path in QMP's <c>query-block</c> rather than remembered, so this works for a sandbox attached by another
    /// process, and the image name is unique per container. Skipped while the sandbox is destroyed: the VM goes
    /// away with every disk, and the state directory with every image.
    /// </summary>
    private async Task ReleaseDiskAsync(string containerId, CancellationToken cancellationToken)
    {
        if (_destroyed)
        {
            return;
        }
        string image = DiskImagePath(containerId);
        var disk = (await Vm.QueryDisksAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(d => d.ImagePath == image);
        if (disk is not null)
        {
            await Vm.RemoveDiskAsync(disk.PciPath, cancellationToken).ConfigureAwait(false);
        }
        File.Delete(image);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _containers.RemoveAll(c => c.Id == containerId);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReleaseDiskQuietlyAsync(string containerId)
    {
        try
        {
            await ReleaseDiskAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or QmpException or IOException)
        {
            // The caller's error is the one that matters; destroying the sandbox takes the disk with the VM.
        }
    }

    /// <summary>
    /// Removes the containers this object created, sends DestroySandbox (after which the agent powers the guest
    /// off), waits for qemu to exit (quit, then kill, after a grace), restores the pod netns (from the endpoint
    /// this object set up, or from the teardown journal for an attached sandbox), and deletes the state directory.
    /// </summary>
    /// <exception cref="PodNetworkException">Restoring the pod netns failed: the message names the steps left undone.
    /// The VM and the state directory are gone all the same.</exception>
    public async Task DestroyAsync(CancellationToken cancellationToken = default)
    {
        if (_destroyed)
        {
            return;
        }
        _destroyed = true;
        // _destroyed is set, so removing a container leaves its disk to the VM's end (no slow unplug each).
        foreach (var container in _containers.ToArray())
        {
            // Best effort: DestroySandbox removes whatever is left, and a dead VM takes everything with it.
            await container.DisposeAsync().ConfigureAwait(false);
        }
        _containers.Clear();
        bool agentAnswered = false;
        if (Vm.IsRunning && Agent is not null)
        {
            try
            {
                await Agent.DestroySandboxAsync(new DestroySandboxRequest(), cancellationToken).ConfigureAwait(false);
                agentAnswered = true;
            }
            catch (RpcException)
            {
                // The agent may power off before its answer gets out; qemu's exit is what counts.
            }
        }
        await Vm.StopAsync(agentAnswered ? PowerOffGrace : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        string state = Vm.StateDirectory;
        try
        {
            // After qemu is gone (a tap it still held would not go away), and before the state directory
            // goes: an attached sandbox has only the journal there.
            if (Network is not null)
            {
                await Network.TearDownAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await RestoreNetworkAsync(state, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await Vm.DisposeAsync().ConfigureAwait(false);
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
            _gate.Dispose();
        }
    }

    /// <summary>
    /// Restores the pod netns of a sandbox whose VM is gone without <see cref="DestroyAsync"/> (killed, powered
    /// off by itself, or its owner died), from the teardown journal in <paramref name="stateDirectory"/>: taps,
    /// qdiscs and filters deleted, the veth's MAC, addresses, routes and neighbours back, passt stopped. Returns
    /// false when the sandbox had no pod network (or it was restored already). Call it before deleting the state
    /// directory, and never while the VM runs.
    /// </summary>
    /// <exception cref="PodNetworkException">Some steps failed; the message names them, and the journal keeps them for another try.</exception>
    public static Task<bool> RestoreNetworkAsync(string stateDirectory, CancellationToken cancellationToken = default) =>
        NetworkEndpoint.TearDownFromJournalAsync(Path.Combine(stateDirectory, NetworkJournalFileName), cancellationToken);

    /// <summary>Destroys the sandbox, or, for a detached one, only disconnects (the VM and its state stay).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_destroyed)
        {
            return;
        }
        if (!Vm.Detached)
        {
            await DestroyAsync().ConfigureAwait(false);
            return;
        }
        // A detached sandbox's containers keep running: their handles are the caller's to let go of, and
        // disposing them here would remove the containers.
        _destroyed = true;
        _containers.Clear();
        await Vm.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
