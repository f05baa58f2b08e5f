using KataAgent.Host.Containers;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Sandboxes;

/// <summary>
/// What a <see cref="Sandbox"/> asks of its agent: the seam that lets the sandbox's ordering logic be tested
/// without an agent. <see cref="AgentClientSandboxAgent"/> is the implementation over an <see cref="AgentClient"/>.
/// </summary>
internal interface ISandboxAgent
{
    Task CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken);

    Task DestroySandboxAsync(CancellationToken cancellationToken);

    Task UpdateInterfaceAsync(UpdateInterfaceRequest request, CancellationToken cancellationToken);

    Task UpdateRoutesAsync(UpdateRoutesRequest request, CancellationToken cancellationToken);

    Task AddARPNeighborsAsync(AddARPNeighborsRequest request, CancellationToken cancellationToken);

    /// <summary>OnlineCPUMem, waited for: CPUs online until <paramref name="cpus"/> are, and every memory block unless <paramref name="cpuOnly"/>.</summary>
    Task OnlineCpusAndMemoryAsync(uint cpus, bool cpuOnly, CancellationToken cancellationToken);

    Task RemoveContainerAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>RemoveStaleVirtiofsShareMounts: the guest drops its submounts of what the host took out of the share.</summary>
    Task RemoveStaleVirtiofsShareMountsAsync(CancellationToken cancellationToken);

    /// <summary>CreateContainer, and a handle on the container (its stdio attached as <paramref name="options"/> say).</summary>
    Task<Container> CreateContainerAsync(CreateContainerRequest request, ContainerOptions? options, CancellationToken cancellationToken);

    /// <summary>StatsContainer for the sandbox's own id: the pod's (the whole guest's) statistics.</summary>
    Task<StatsContainerResponse> StatsSandboxAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>A handle on an existing container (nothing sent to the agent).</summary>
    Task<Container> OpenContainerAsync(string containerId, ContainerOptions? options, CancellationToken cancellationToken);

    /// <summary>kataagent.v1.Images/PullImage.</summary>
    Task<Protocols.Extensions.PullImageResponse> PullImageAsync(Protocols.Extensions.PullImageRequest request, CancellationToken cancellationToken);
}
