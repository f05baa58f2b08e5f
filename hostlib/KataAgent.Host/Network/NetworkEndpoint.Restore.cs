using KataAgent.Host.Network.Checkpoints;
using KataAgent.Host.Network.Endpoints;

namespace KataAgent.Host.Network;

public abstract partial class NetworkEndpoint
{
    /// <summary>
    /// Wires a checkpointed VM's network into <paramref name="namespacePath"/> (the netns it was checkpointed in, or
    /// another) before the restored qemu starts there: the same model, one backend per checkpointed NIC on the target's
    /// interface of the same name, and <see cref="Devices"/> with the NICs' own MACs and queues, which the restored qemu
    /// must be given in that order (after any devices of its own) for the saved device state to load. The guest keeps
    /// its view (names, MACs, addresses, routes): the target's interfaces must carry the pod's addresses and MTU.
    /// Everything is checked before anything is changed; a failure half-way undoes what was done. With
    /// <paramref name="journalPath"/> every change is journaled as at setup, so <see cref="TearDownFromJournalAsync"/>
    /// restores the target netns if the restoring process dies.
    /// </summary>
    /// <param name="checkpoint">The network the VM was checkpointed with (<see cref="NetworkCheckpoint.Of"/>, <see cref="NetworkCheckpoint.FromJournal"/>).</param>
    /// <param name="namespacePath">The target pod netns (e.g. /var/run/netns/NAME).</param>
    /// <param name="stateDirectory">Where passt keeps its socket and pid file when not run as root.</param>
    /// <param name="journalPath">The restored sandbox's network journal; null to keep the changes in this process only.</param>
    /// <param name="cancellationToken">Cancels waiting for passt to start.</param>
    /// <exception cref="PodNetworkException">The target netns is missing, is not a netns, or cannot take the NICs
    /// (an interface missing, other addresses or MTU, a tap name or ingress qdisc already taken): every problem is
    /// named, and nothing was changed. Or the wiring itself failed, and was undone.</exception>
    public static async Task<NetworkEndpoint> RestoreAsync(NetworkCheckpoint checkpoint, string namespacePath, string stateDirectory,
        string? journalPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentException.ThrowIfNullOrEmpty(namespacePath);
        var network = PodNetworkScanner.Scan(namespacePath);
        var interfaces = NetworkRestoreCheck.Match(checkpoint, network);
        if (journalPath is not null)
        {
            journalPath = Path.GetFullPath(journalPath);
            Directory.CreateDirectory(Path.GetDirectoryName(journalPath)!);
        }
        NetworkEndpoint endpoint = checkpoint.Model switch
        {
            NetworkModel.TcFilter => TcFilterEndpoint.Restore(network, interfaces, checkpoint.Nics, journalPath),
            NetworkModel.Macvtap => MacvtapEndpoint.Restore(network, interfaces, checkpoint.Nics, journalPath),
            NetworkModel.Passt => await PasstEndpoint.SetUpAsync(network, stateDirectory, checkpoint.PortForwards, journalPath, cancellationToken,
                template: interfaces[0], guestMac: checkpoint.Nics[0].GuestMac).ConfigureAwait(false),
            NetworkModel.None => new NoneEndpoint(network),
            _ => throw new PodNetworkException($"the checkpoint's network model {checkpoint.Model} is unknown"),
        };
        await endpoint.RecordAsync().ConfigureAwait(false);
        return endpoint;
    }
}
