using KataAgent.Host.Network.Endpoints;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Types;

namespace KataAgent.Host.Network;

/// <summary>
/// The host side of a pod's network for one VM: made in the pod's netns before qemu starts (qemu
/// then gets <see cref="Devices"/>), told to the agent afterwards (<see cref="AgentInterfaces"/>,
/// <see cref="AgentRoutes"/>, <see cref="AgentNeighbours"/>), and torn down so that the netns is
/// exactly as CNI left it.
/// </summary>
public abstract class NetworkEndpoint : IAsyncDisposable
{
    private bool _tornDown;

    protected NetworkEndpoint(PodNetwork network, IReadOnlyList<EndpointNic> nics)
    {
        Network = network;
        Nics = nics;
    }

    public abstract NetworkModel Model { get; }

    public PodNetwork Network { get; }

    /// <summary>The guest NICs, in the order of <see cref="Devices"/>.</summary>
    public IReadOnlyList<EndpointNic> Nics { get; }

    /// <summary>What goes into <see cref="QemuOptions.NetworkDevices"/>.</summary>
    public IReadOnlyList<QemuNetworkDevice> Devices => [.. Nics.Select(n => n.Device)];

    /// <summary>
    /// Scans the pod netns and sets up <paramref name="model"/> there. A failure half-way undoes what was
    /// done before it is thrown.
    /// </summary>
    /// <param name="stateDirectory">Where passt keeps its socket and pid file.</param>
    /// <param name="portForwards">passt's inbound ports; refused for the other models (they expose the guest at the pod IP directly).</param>
    public static async Task<NetworkEndpoint> SetUpAsync(NetworkModel model, string namespacePath, string stateDirectory,
        IReadOnlyList<PortForward>? portForwards = null, CancellationToken cancellationToken = default)
    {
        portForwards ??= [];
        if (portForwards.Count > 0 && model != NetworkModel.Passt)
        {
            throw new ArgumentException($"port forwards need the passt model; with {model} the guest answers at the pod IP itself", nameof(portForwards));
        }
        var network = PodNetworkScanner.Scan(namespacePath);
        return model switch
        {
            NetworkModel.TcFilter => TcFilterEndpoint.SetUp(network),
            NetworkModel.Macvtap => MacvtapEndpoint.SetUp(network),
            NetworkModel.Passt => await PasstEndpoint.SetUpAsync(network, stateDirectory, portForwards, cancellationToken).ConfigureAwait(false),
            NetworkModel.None => new NoneEndpoint(network),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model, "unknown network model"),
        };
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

    protected abstract Task TearDownCoreAsync(CancellationToken cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await TearDownAsync(CancellationToken.None).ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
