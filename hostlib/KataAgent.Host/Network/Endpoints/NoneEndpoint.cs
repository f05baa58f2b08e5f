namespace KataAgent.Host.Network.Endpoints;

/// <summary>No NIC and nothing changed in the pod netns.</summary>
public sealed class NoneEndpoint(PodNetwork network) : NetworkEndpoint(network, [])
{
    /// <inheritdoc/>
    public override NetworkModel Model => NetworkModel.None;

    /// <inheritdoc/>
    protected override Task TearDownCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
