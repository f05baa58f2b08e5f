using System.Text.Json;
using KataAgent.Host.Containers;
using KataAgent.Host.Network;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;
using KataAgent.Protocols;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Guest;

namespace KataAgent.Host.Sandboxes;

/// <summary>
/// A Kata sandbox: one VM (<see cref="QemuVm"/>) whose agent has run CreateSandbox, and the containers in it, each
/// from a rootfs directory. By default (<see cref="RootfsMode.VirtioFs"/>) the directory is shared as it is through the
/// sandbox's virtio-fs share, laid out in the state directory as Kata's runtime lays it out (bind-mounted at
/// <c>mounts/&lt;id&gt;/rootfs</c>, seen by the guest below <c>/run/kata-containers/shared/containers/</c>); removing the
/// container unmounts it again. With <see cref="RootfsMode.Blk"/> each rootfs is packed into an ext4 disk, hot-plugged,
/// and mounted by the agent's <c>blk</c> storage driver; removing the container hot-unplugs its disk and deletes its
/// image. Either way containers can come and go for ever in one sandbox; <see cref="QemuOptions.HotplugSlots"/> only
/// limits how many blk containers exist at once.
/// </summary>
/// <remarks>
/// <see cref="DestroyAsync"/> is the orderly end: containers removed, DestroySandbox, the VM stopped, the pod
/// network restored, the state directory deleted. <see cref="DisposeAsync"/> asks the agent nothing: it lets go
/// of what this object holds on the host. For a VM this object started (not <see cref="QemuOptions.Detached"/>),
/// that includes the VM itself, since qemu dies with its starter anyway: it is stopped, the pod network restored
/// and the state deleted, as <see cref="DestroyAsync"/> does without its agent calls. A detached or attached
/// sandbox is only disconnected; its VM and state stay.
/// </remarks>
public sealed partial class Sandbox : IAsyncDisposable, IContainerOwner
{
    /// <summary>How long a destroyed sandbox's VM gets to power itself off before it is told to quit and then killed.</summary>
    private static readonly TimeSpan PowerOffGrace = TimeSpan.FromSeconds(20);

    private const string StateFileName = "agent-sandbox.json";

    /// <summary>The pod network's teardown journal in the state directory (see <see cref="RestoreNetworkAsync"/>).</summary>
    public const string NetworkJournalFileName = "network.json";

    /// <summary>Where the agent keeps CreateSandbox's DNS lines in the guest: the source of the containers' /etc/resolv.conf.</summary>
    public const string GuestResolvConfPath = GuestLayout.SandboxResolvConfPath;

    private readonly IVirtualMachine _vm;
    private readonly ISandboxAgent _agent;
    private readonly bool _ownsVm;
    private readonly ISandboxShare? _share;
    private readonly List<Container> _containers = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    internal Sandbox(string id, IVirtualMachine vm, ISandboxAgent agent, bool ownsVm, bool hasDns, NetworkEndpoint? network = null, ISandboxShare? share = null)
    {
        Id = id;
        _vm = vm;
        _agent = agent;
        _ownsVm = ownsVm;
        HasDns = hasDns;
        Network = network;
        _share = share;
        if (share is not null)
        {
            _ = StopOnVirtiofsdFailureAsync();
        }
    }

    /// <summary>How containers get their rootfs directories (<see cref="SandboxOptions.RootfsMode"/>).</summary>
    public RootfsMode RootfsMode => _share is null ? RootfsMode.Blk : RootfsMode.VirtioFs;

    /// <summary>Whether the sandbox was created with <see cref="SandboxOptions.Dns"/>.</summary>
    public bool HasDns { get; }

    /// <summary>The pod network wired into the VM, when <see cref="QemuOptions.NetworkNamespacePath"/> was given.</summary>
    public NetworkEndpoint? Network { get; }

    /// <summary>The sandbox id.</summary>
    public string Id { get; }

    /// <summary>The VM.</summary>
    public QemuVm Vm => (QemuVm)_vm;

    /// <summary>The connected agent.</summary>
    public AgentClient Agent => Vm.Agent;

    /// <summary>Time from starting qemu to the agent's first answer (zero for an attached sandbox).</summary>
    public TimeSpan BootToReady => _vm.BootToReady;

    /// <summary>Where the agent mounts container <paramref name="containerId"/>'s rootfs disk (its OCI <c>Root.Path</c> with <see cref="RootfsMode.Blk"/>).</summary>
    public static string RootfsMountPoint(string containerId) => GuestLayout.ContainerRootfs(containerId);

    /// <summary>Where the guest sees container <paramref name="containerId"/>'s shared rootfs (its OCI <c>Root.Path</c> with <see cref="RootfsMode.VirtioFs"/>).</summary>
    public static string SharedRootfsPath(string containerId) => SandboxShare.GuestRootfs(containerId);

    /// <summary>The virtio-fs tag of the sandbox's share (Kata's).</summary>
    public const string ShareTag = SandboxShare.Tag;

    /// <summary>Where the agent mounts the sandbox's share in the guest (Kata's, with its trailing slash).</summary>
    public const string GuestShareDirectory = SandboxShare.GuestDirectory;

    /// <summary>Boots the VM, waits for the agent, and sends CreateSandbox (hostname, sandbox id).</summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="QemuBootException">The VM or its agent did not come up (with the console tail).</exception>
    /// <exception cref="PodNetworkException">The pod network could not be wired into the VM.</exception>
    /// <exception cref="AgentStatusException">The agent refused CreateSandbox or the guest network.</exception>
    public static Task<Sandbox> StartAsync(SandboxOptions options, CancellationToken cancellationToken = default) =>
        StartCoreAsync(options, async (vmOptions, ct) =>
        {
            var vm = await QemuVm.StartAsync(vmOptions, ct).ConfigureAwait(false);
            return (vm, new AgentClientSandboxAgent(vm.Agent));
        }, cancellationToken);

    /// <summary>The start with the VM's boot (and the share's making) given: the seam the sandbox's tests boot fakes through.</summary>
    internal static async Task<Sandbox> StartCoreAsync(SandboxOptions options,
        Func<QemuOptions, CancellationToken, Task<(IVirtualMachine Vm, ISandboxAgent Agent)>> boot, CancellationToken cancellationToken,
        Func<string, ISandboxShare>? makeShare = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Vm, nameof(options.Vm));
        ContainerIds.Validate(options.Id, nameof(options.Id));
        if (options.NetworkQueues < 1 || options.NetworkQueues > QemuVm.MaxNetworkQueues)
        {
            throw new ArgumentException($"NetworkQueues: {options.NetworkQueues} is not between 1 and {QemuVm.MaxNetworkQueues}", nameof(options));
        }
        for (int i = 0; i < options.Dns.Count; i++)
        {
            if (ResolvConfLines.Problem(options.Dns[i]) is { } problem)
            {
                // The agent refuses it too, but only after the VM has booted.
                throw new ArgumentException($"Dns[{i}] {problem}", nameof(options));
            }
        }
        string hostname = options.Hostname.Length > 0 ? options.Hostname : options.Id;
        string stateDirectory = options.Vm.StateDirectory;
        // The endpoint comes first: qemu's command line names its taps, descriptors or passt socket. Its changes
        // are journaled in the state directory, so that whoever removes the sandbox can restore the netns: the
        // process that attaches to a detached sandbox, or `kactl rm` after the owner died.
        NetworkEndpoint? network = null;
        if (options.Vm.NetworkNamespacePath is { } netns)
        {
            bool madeStateDirectory = !Directory.Exists(stateDirectory);
            Directory.CreateDirectory(stateDirectory);
            try
            {
                network = await NetworkEndpoint.SetUpWithQueuesAsync(options.NetworkModel, netns, stateDirectory, options.PortForwards,
                    Path.Combine(stateDirectory, NetworkJournalFileName), options.NetworkQueues, cancellationToken).ConfigureAwait(false);
            }
            catch when (madeStateDirectory)
            {
                // The endpoint undid its own changes; the directory made for its journal goes too.
                Directory.Delete(stateDirectory, recursive: true);
                throw;
            }
        }
        IVirtualMachine vm;
        ISandboxAgent agent;
        ISandboxShare? share = null;
        try
        {
            // The share's layout must be there before virtiofsd starts serving it, which is before qemu.
            if (options.RootfsMode == RootfsMode.VirtioFs)
            {
                share = (makeShare ?? SandboxShare.Create)(stateDirectory);
            }
            // The pod's NICs come after any the caller attaches itself.
            var vmOptions = network is null ? options.Vm : options.Vm with { NetworkDevices = [.. options.Vm.NetworkDevices, .. network.Devices] };
            if (share is not null)
            {
                vmOptions = vmOptions with { SharedDirectories = [.. vmOptions.SharedDirectories, new QemuSharedDirectory(SandboxShare.Tag, share.SharedDirectory) { RequestQueues = options.ShareRequestQueues }] };
            }
            (vm, agent) = await boot(vmOptions, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            share?.UnmountAll();
            if (network is not null)
            {
                await network.TearDownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            throw;
        }
        var sandbox = new Sandbox(options.Id, vm, agent, ownsVm: !options.Vm.Detached, options.Dns.Count > 0, network, share);
        try
        {
            var createSandbox = new CreateSandboxRequest { Hostname = hostname, SandboxId = options.Id, Dns = { options.Dns } };
            if (share is not null)
            {
                // As Kata's runtime sends it (setupStorages): the agent mounts the share before any container needs it.
                createSandbox.Storages.Add(new Storage { Driver = "virtio-fs", Source = SandboxShare.Tag, Fstype = "virtiofs", MountPoint = SandboxShare.GuestDirectory });
            }
            if (options.DeferCreateSandbox)
            {
                sandbox.PendingCreateSandbox = createSandbox;
            }
            else
            {
                await agent.CreateSandboxAsync(createSandbox, cancellationToken).ConfigureAwait(false);
            }
            if (network is not null)
            {
                await sandbox.ConfigureGuestNetworkAsync(vm.NetworkPciPaths.Skip(options.Vm.NetworkDevices.Count).ToList(), cancellationToken).ConfigureAwait(false);
            }
            await using (var stream = File.Create(Path.Combine(vm.StateDirectory, StateFileName)))
            {
                await JsonSerializer.SerializeAsync(stream, new SandboxStateFile { Id = options.Id, Hostname = hostname, HasDns = options.Dns.Count > 0, RootfsMode = options.RootfsMode }, SandboxStateFileJsonContext.Default.SandboxStateFile, cancellationToken).ConfigureAwait(false);
            }
            return sandbox;
        }
        catch (Exception e)
        {
            // A start that failed half-way leaves nothing running, detached or not.
            await vm.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            try
            {
                await sandbox.FinishTeardownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (KataAgentException undo)
            {
                // The caller's error is the one to throw; the journal in the state directory keeps the rest.
                e.Data["undo"] = undo.Message;
            }
            throw;
        }
    }

    /// <summary>The CreateSandbox a sandbox started with <see cref="SandboxOptions.DeferCreateSandbox"/> has not sent: its caller sends it (in CreatePod).</summary>
    internal CreateSandboxRequest? PendingCreateSandbox { get; private set; }

    /// <summary>
    /// What Kata's runtime sends after the VM is up (configureGuestNetwork): each NIC by MAC and PCI path
    /// (the agent waits for it) with the pod interface's name, addresses and MTU; then the routes, then
    /// the static neighbours.
    /// </summary>
    private async Task ConfigureGuestNetworkAsync(IReadOnlyList<string> pciPaths, CancellationToken cancellationToken)
    {
        var network = Network!;
        foreach (var nic in network.AgentInterfaces(pciPaths))
        {
            await _agent.UpdateInterfaceAsync(new UpdateInterfaceRequest { Interface = nic }, cancellationToken).ConfigureAwait(false);
        }
        if (network.Nics.Count == 0)
        {
            return;
        }
        var routes = new Routes();
        routes.Routes_.AddRange(network.AgentRoutes);
        await _agent.UpdateRoutesAsync(new UpdateRoutesRequest { Routes = routes }, cancellationToken).ConfigureAwait(false);
        if (network.AgentNeighbours.Count > 0)
        {
            var neighbours = new ARPNeighbors();
            neighbours.ARPNeighbors_.AddRange(network.AgentNeighbours);
            await _agent.AddARPNeighborsAsync(new AddARPNeighborsRequest { Neighbors = neighbours }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reconnects to a sandbox from its state directory (typically a detached one another process started).</summary>
    /// <exception cref="VmException">No sandbox there, or its VM is no longer running.</exception>
    public static async Task<Sandbox> AttachAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        string stateFile = Path.Combine(stateDirectory, StateFileName);
        SandboxStateFile state;
        try
        {
            await using var stream = File.OpenRead(stateFile);
            state = await JsonSerializer.DeserializeAsync(stream, SandboxStateFileJsonContext.Default.SandboxStateFile, cancellationToken).ConfigureAwait(false)
                ?? throw new VmException($"{stateFile} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VmException($"no sandbox in {stateDirectory}: {stateFile} does not exist", e);
        }
        catch (JsonException e)
        {
            throw new VmException($"{stateFile} is not a sandbox state file: {e.Message}", e);
        }
        var vm = await QemuVm.AttachAsync(stateDirectory, cancellationToken).ConfigureAwait(false);
        return new Sandbox(state.Id, vm, new AgentClientSandboxAgent(vm.Agent), ownsVm: false, state.HasDns,
            share: state.RootfsMode == RootfsMode.VirtioFs ? SandboxShare.Open(stateDirectory) : null);
    }
}
