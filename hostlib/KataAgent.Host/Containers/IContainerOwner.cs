namespace KataAgent.Host.Containers;

/// <summary>
/// Whoever made a container and must take part in removing it (a <see cref="Sandboxes.Sandbox"/>, which
/// releases the container's disk after the agent has removed it). <see cref="Container.RemoveAsync"/> hands
/// the whole removal to it, so that the container knows nothing of what the owner holds.
/// </summary>
internal interface IContainerOwner
{
    /// <summary>RemoveContainer with <paramref name="timeout"/>, then whatever the owner releases.</summary>
    Task RemoveContainerAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken);
}
