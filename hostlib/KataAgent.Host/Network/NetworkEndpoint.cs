using KataAgent.Host.Network.Endpoints;
using KataAgent.Host.Network.Teardown;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Types;

namespace KataAgent.Host.Network;

/// <summary>
/// The host side of a pod's network for one VM: made in the pod's netns before qemu starts (qemu
/// then gets <see cref="Devices"/>), told to the agent afterwards (<see cref="AgentInterfaces"/>,
/// <see cref="AgentRoutes"/>, <see cref="AgentNeighbours"/>), and torn down so that the netns is
/// exactly as CNI left it.
/// </summary>
public abstract partial class NetworkEndpoint : IAsyncDisposable
{
    private bool _tornDown;

    /// <summary>An endpoint for <paramref name="network"/> that made <paramref name="nics"/>.</summary>
    protected NetworkEndpoint(PodNetwork network, IReadOnlyList<EndpointNic> nics)
    {
        Network = network;
        Nics = nics;
    }

    /// <summary>Which model this endpoint is.</summary>
    public abstract NetworkModel Model { get; }

    /// <summary>What the scan of the pod netns found.</summary>
    public PodNetwork Network { get; }

    /// <summary>The guest NICs, in the order of <see cref="Devices"/>.</summary>
    public IReadOnlyList<EndpointNic> Nics { get; }

    /// <summary>What goes into <see cref="QemuOptions.NetworkDevices"/>.</summary>
    public IReadOnlyList<QemuNetworkDevice> Devices => [.. Nics.Select(n => n.Device)];

    /// <summary>
    /// Scans the pod netns and sets up <paramref name="model"/> there. A failure half-way undoes what was
    /// done before it is thrown.
    /// </summary>
    /// <param name="model">How the pod's interfaces reach the guest.</param>
    /// <param name="namespacePath">The pod's network namespace, as CNI leaves it (e.g. /var/run/netns/NAME).</param>
    /// <param name="stateDirectory">Where passt keeps its socket and pid file when not run as root.</param>
    /// <param name="portForwards">passt's inbound ports; refused for the other models (they expose the guest at the pod IP directly).</param>
    /// <param name="journalPath">
    /// Where every change is also written as it is made, with the way back, so that another process can restore
    /// the netns with <see cref="TearDownFromJournalAsync"/> (a detached sandbox, or an owner that died); null to
    /// keep it in this process only. Deleted once the teardown is complete.
    /// </param>
    /// <param name="cancellationToken">Cancels waiting for passt to start.</param>
    public static Task<NetworkEndpoint> SetUpAsync(NetworkModel model, string namespacePath, string stateDirectory,
        IReadOnlyList<PortForward>? portForwards = null, string? journalPath = null, CancellationToken cancellationToken = default) =>
        SetUpWithQueuesAsync(model, namespacePath, stateDirectory, portForwards, journalPath, queues: 1, cancellationToken);

    /// <summary>
    /// As the public form, with NICs of <paramref name="queues"/> queue pairs where the model allows several (tcfilter's
    /// taps, made IFF_MULTI_QUEUE); the others (macvtap's single descriptor, passt's socket) keep one.
    /// </summary>
    internal static async Task<NetworkEndpoint> SetUpWithQueuesAsync(NetworkModel model, string namespacePath, string stateDirectory,
        IReadOnlyList<PortForward>? portForwards, string? journalPath, int queues, CancellationToken cancellationToken)
    {
        portForwards ??= [];
        if (portForwards.Count > 0 && model != NetworkModel.Passt)
        {
            throw new ArgumentException($"port forwards need the passt model; with {model} the guest answers at the pod IP itself", nameof(portForwards));
        }
        var network = PodNetworkScanner.Scan(namespacePath);
        if (journalPath is not null)
        {
            journalPath = Path.GetFullPath(journalPath);
            Directory.CreateDirectory(Path.GetDirectoryName(journalPath)!);
        }
        NetworkEndpoint endpoint = model switch
        {
            NetworkModel.TcFilter => TcFilterEndpoint.SetUp(network, journalPath, queues),
            NetworkModel.Macvtap => MacvtapEndpoint.SetUp(network, journalPath),
            NetworkModel.Passt => await PasstEndpoint.SetUpAsync(network, stateDirectory, portForwards, journalPath, cancellationToken).ConfigureAwait(false),
            NetworkModel.None => new NoneEndpoint(network),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model, "unknown network model"),
        };
        await endpoint.RecordAsync().ConfigureAwait(false);
        return endpoint;
    }

    /// <summary>The endpoint's changes (journaled when it was given a journal); null for a model that changes nothing.</summary>
    private protected virtual UndoStack? Journal => null;

    /// <summary>
    /// Writes the complete endpoint's <see cref="Checkpoints.NetworkCheckpoint"/> into its journal, so that a process
    /// that did not set it up can checkpoint the VM; a failure to write undoes the endpoint and is thrown.
    /// </summary>
    private async Task RecordAsync()
    {
        if (Journal is not { JournalPath: not null } journal)
        {
            return;
        }
        try
        {
            journal.Record(Checkpoints.NetworkCheckpoint.Of(this));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await TearDownAsync(CancellationToken.None).ConfigureAwait(false);
            throw new PodNetworkException($"the network journal {journal.JournalPath} cannot be written: {e.Message}", e);
        }
    }

    /// <summary>UpdateInterface requests, one per NIC; <paramref name="pciPaths"/> are the NICs' PCI paths (<see cref="QemuVm.NetworkPciPaths"/>).</summary>
    public IReadOnlyList<Interface> AgentInterfaces(IReadOnlyList<string> pciPaths)
    {
        if (pciPaths.Count != Nics.Count)
        {
            throw new ArgumentException($"{Nics.Count} NICs but {pciPaths.Count} PCI paths", nameof(pciPaths));
        }
        return [.. Nics.Select((nic, i) => nic.Interface.ToAgentInterface(nic.Device.Mac, pciPaths[i], nic.Type))];
    }

    /// <summary>The routes the guest gets: those of the pod interfaces that have a NIC.</summary>
    public virtual IReadOnlyList<Route> AgentRoutes =>
        [.. Network.Routes.Where(r => Nics.Any(n => n.Interface.Name == r.Device))];

    /// <summary>The static neighbours the guest gets: those on pod interfaces that have a NIC.</summary>
    public virtual IReadOnlyList<ARPNeighbor> AgentNeighbours =>
        [.. Network.Neighbours.Where(a => Nics.Any(n => n.Interface.Name == a.Device))];

    /// <summary>Undoes the setup (after qemu has gone: a tap qemu still holds is not freed). Once only.</summary>
    public async Task TearDownAsync(CancellationToken cancellationToken = default)
    {
        if (_tornDown)
        {
            return;
        }
        _tornDown = true;
        await TearDownCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Undoes the model's changes to the pod netns (called once, by <see cref="TearDownAsync"/>).</summary>
    protected abstract Task TearDownCoreAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Restores a pod netns from the journal an endpoint wrote (see <see cref="SetUpAsync"/>'s journalPath), in
    /// a process that did not set it up. Only once the VM is gone: a tap qemu still holds is not freed. Every
    /// step is idempotent, so running it again after a failure is safe; a netns whose path is gone has nothing
    /// left to restore (helpers such as passt are still stopped). Returns false when there is no journal.
    /// </summary>
    /// <exception cref="PodNetworkException">Some steps failed (named in the message; the journal keeps them), or the file is not a journal.</exception>
    public static Task<bool> TearDownFromJournalAsync(string journalPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(journalPath);
        // Stopping passt waits for it to exit: off the caller's thread.
        return Task.Run(() =>
        {
            if (UndoStack.Load(journalPath) is not { } undo)
            {
                return false;
            }
            using var context = new UndoContext(undo.NamespacePath);
            undo.UndoAll(context);
            return true;
        }, cancellationToken);
    }

    /// <summary>Tears the endpoint down (<see cref="TearDownAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        await TearDownAsync(CancellationToken.None).ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
