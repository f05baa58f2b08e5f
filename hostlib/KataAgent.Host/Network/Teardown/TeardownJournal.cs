namespace KataAgent.Host.Network.Teardown;

/// <summary>The file an <see cref="UndoStack"/> is journaled to (network.json in a sandbox's state directory): the steps in the order they were made.</summary>
internal sealed record TeardownJournal
{
    public required string NamespacePath { get; init; }

    public required NetworkModel Model { get; init; }

    public required IReadOnlyList<UndoStep> Steps { get; init; }

    /// <summary>What a restore of the VM needs of this wiring (recorded once the endpoint is complete); null before.</summary>
    public Checkpoints.NetworkCheckpoint? Checkpoint { get; init; }
}
