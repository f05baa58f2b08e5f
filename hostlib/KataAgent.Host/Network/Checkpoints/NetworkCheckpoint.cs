using System.Text.Json;

namespace KataAgent.Host.Network.Checkpoints;

/// <summary>
/// What a restored VM needs of its pod network: the model, and per guest NIC what the guest kept (its name, MAC,
/// addresses, MTU) and what its device must be again (MAC, queues). A sandbox's network journal carries one from the
/// moment its endpoint is wired (<see cref="FromJournal"/>), so a checkpoint can be taken by a process that did not
/// start the sandbox; <see cref="NetworkEndpoint.RestoreAsync"/> wires it into the same or another pod netns.
/// </summary>
public sealed record NetworkCheckpoint
{
    /// <summary>How the pod's interfaces reached the VM; the restore wires the same model.</summary>
    public required NetworkModel Model { get; init; }

    /// <summary>The pod netns the VM was checkpointed in (for messages; a restore may go elsewhere).</summary>
    public required string NamespacePath { get; init; }

    /// <summary>The guest NICs, in the order of the VM's network devices.</summary>
    public required IReadOnlyList<NetworkCheckpointNic> Nics { get; init; }

    /// <summary>passt's inbound ports, forwarded again in the target netns.</summary>
    public IReadOnlyList<PortForward> PortForwards { get; init; } = [];

    /// <summary>The checkpoint of a running endpoint.</summary>
    public static NetworkCheckpoint Of(NetworkEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new NetworkCheckpoint
        {
            Model = endpoint.Model,
            NamespacePath = endpoint.Network.NamespacePath,
            Nics = [.. endpoint.Nics.Select(n => new NetworkCheckpointNic
            {
                Name = n.Interface.Name,
                GuestMac = n.Device.Mac,
                Mtu = n.Interface.Link.Mtu,
                Addresses = [.. n.Interface.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}")],
                Queues = n.Device.Queues,
                Type = n.Type,
            })],
            PortForwards = endpoint is Endpoints.PasstEndpoint passt ? passt.PortForwards : [],
        };
    }

    /// <summary>
    /// The checkpoint a sandbox's network journal (<see cref="Sandboxes.Sandbox.NetworkJournalFileName"/> in its state
    /// directory) carries; null when there is no journal (no pod network, the <see cref="NetworkModel.None"/> model,
    /// or one already torn down).
    /// </summary>
    /// <exception cref="PodNetworkException">The file is not a network journal, or one written before journals carried the wiring.</exception>
    public static NetworkCheckpoint? FromJournal(string journalPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(journalPath);
        if (Teardown.UndoStack.Load(journalPath) is not { } undo)
        {
            return null;
        }
        return undo.Checkpoint ?? throw new PodNetworkException($"{journalPath} does not record the endpoint's wiring (written by an older host library): the pod cannot be checkpointed with its network");
    }

    /// <summary>Writes the checkpoint as JSON to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllText(path, JsonSerializer.Serialize(this, NetworkCheckpointJsonContext.Default.NetworkCheckpoint));
    }

    /// <summary>Reads a checkpoint <see cref="Save"/> wrote.</summary>
    /// <exception cref="PodNetworkException">The file is missing, unreadable or not a network checkpoint (the message names it).</exception>
    public static NetworkCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        NetworkCheckpoint? checkpoint;
        try
        {
            checkpoint = JsonSerializer.Deserialize(File.ReadAllText(path), NetworkCheckpointJsonContext.Default.NetworkCheckpoint);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PodNetworkException($"the network checkpoint {path} cannot be read: {e.Message}", e);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new PodNetworkException($"{path} is not a network checkpoint: {e.Message}", e);
        }
        return checkpoint ?? throw new PodNetworkException($"{path} is not a network checkpoint: it is empty");
    }
}
