using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Sandboxes;

/// <summary>A sandbox's agent over a real <see cref="AgentClient"/>.</summary>
internal sealed class AgentClientSandboxAgent(AgentClient client) : ISandboxAgent
{
    public Task CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken) =>
        client.CreateSandboxAsync(request, cancellationToken);

    public Task DestroySandboxAsync(CancellationToken cancellationToken) =>
        client.DestroySandboxAsync(new DestroySandboxRequest(), cancellationToken);

    public Task UpdateInterfaceAsync(UpdateInterfaceRequest request, CancellationToken cancellationToken) =>
        client.UpdateInterfaceAsync(request, cancellationToken);

    public Task UpdateRoutesAsync(UpdateRoutesRequest request, CancellationToken cancellationToken) =>
        client.UpdateRoutesAsync(request, cancellationToken);

    public Task AddARPNeighborsAsync(AddARPNeighborsRequest request, CancellationToken cancellationToken) =>
        client.AddARPNeighborsAsync(request, cancellationToken);

    public Task OnlineCpusAndMemoryAsync(uint cpus, bool cpuOnly, CancellationToken cancellationToken) =>
        client.OnlineCpusAndMemoryAsync(cpus, cpuOnly, wait: true, cancellationToken);

    public Task RemoveContainerAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken) =>
        client.RemoveContainerAsync(Container.RemoveRequest(containerId, timeout), cancellationToken);

    public Task RemoveStaleVirtiofsShareMountsAsync(CancellationToken cancellationToken) =>
        client.RemoveStaleVirtiofsShareMountsAsync(new RemoveStaleVirtiofsShareMountsRequest(), cancellationToken);

    public Task<Container> CreateContainerAsync(CreateContainerRequest request, ContainerOptions? options, CancellationToken cancellationToken) =>
        Container.CreateAsync(client, request, options, cancellationToken);

    public Task<StatsContainerResponse> StatsSandboxAsync(string sandboxId, CancellationToken cancellationToken) =>
        client.StatsContainerAsync(new StatsContainerRequest { ContainerId = sandboxId }, cancellationToken);

    public Task<Container> OpenContainerAsync(string containerId, ContainerOptions? options, CancellationToken cancellationToken) =>
        Container.OpenAsync(client, containerId, options, cancellationToken);

    public Task<Protocols.Extensions.PullImageResponse> PullImageAsync(Protocols.Extensions.PullImageRequest request, CancellationToken cancellationToken) =>
        client.PullImageAsync(request, cancellationToken);
}
