using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// An agent for the sandbox's ordering tests: every call written to the shared log, and any call named in
/// <see cref="Refuse"/> answered with that status, as the real agent's refusal arrives.
/// </summary>
internal sealed class FakeSandboxAgent(List<string> log) : ISandboxAgent
{
    /// <summary>RPC name → the status the agent answers it with.</summary>
    public Dictionary<string, AgentStatusCode> Refuse { get; } = new(StringComparer.Ordinal);

    /// <summary>The last CreateSandbox request.</summary>
    public CreateSandboxRequest? LastCreateSandbox { get; private set; }

    /// <summary>The last CreateContainer request.</summary>
    public CreateContainerRequest? LastCreateContainer { get; private set; }

    public Task CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        LastCreateSandbox = request;
        return Call($"CreateSandbox {request.SandboxId}", "CreateSandbox");
    }

    public Task DestroySandboxAsync(CancellationToken cancellationToken) => Call("DestroySandbox", "DestroySandbox");

    public Task UpdateInterfaceAsync(UpdateInterfaceRequest request, CancellationToken cancellationToken) => Call("UpdateInterface", "UpdateInterface");

    public Task UpdateRoutesAsync(UpdateRoutesRequest request, CancellationToken cancellationToken) => Call("UpdateRoutes", "UpdateRoutes");

    public Task AddARPNeighborsAsync(AddARPNeighborsRequest request, CancellationToken cancellationToken) => Call("AddARPNeighbors", "AddARPNeighbors");

    public Task OnlineCpusAndMemoryAsync(uint cpus, bool cpuOnly, CancellationToken cancellationToken) =>
        Call($"OnlineCPUMem cpus={cpus} cpuOnly={cpuOnly}", "OnlineCPUMem");

    public Task RemoveContainerAsync(string containerId, TimeSpan timeout, CancellationToken cancellationToken) =>
        Call($"RemoveContainer {containerId} timeout={timeout.TotalSeconds:0}s", "RemoveContainer");

    public Task RemoveStaleVirtiofsShareMountsAsync(CancellationToken cancellationToken) => Call("RemoveStaleVirtiofsShareMounts", "RemoveStaleVirtiofsShareMounts");

    /// <summary>When set, CreateContainer waits for it after logging: an agent whose answer does not come.</summary>
    public Task? HoldCreateContainer { get; set; }

    public async Task<Container> CreateContainerAsync(CreateContainerRequest request, ContainerOptions? options, CancellationToken cancellationToken)
    {
        LastCreateContainer = request;
        if (HoldCreateContainer is { } hold)
        {
            _ = Call($"CreateContainer {request.ContainerId} (no answer)", "");
            await hold;
        }
        await Call(request.Storages.Count > 0
            ? $"CreateContainer {request.ContainerId} storage={request.Storages[0].Source}"
            : $"CreateContainer {request.ContainerId} root={request.OCI.Root.Path}", "CreateContainer");
        return Container.Handle(null!, request.ContainerId, request.ExecId, options ?? new ContainerOptions());
    }

    public async Task<StatsContainerResponse> StatsSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        await Call($"StatsContainer {sandboxId}", "StatsContainer");
        return new StatsContainerResponse();
    }

    /// <summary>The last PullImage request.</summary>
    public KataAgent.Protocols.Extensions.PullImageRequest? LastPullImage { get; private set; }

    public async Task<KataAgent.Protocols.Extensions.PullImageResponse> PullImageAsync(KataAgent.Protocols.Extensions.PullImageRequest request, CancellationToken cancellationToken)
    {
        LastPullImage = request;
        await Call($"PullImage {request.ContainerId} {request.Image}", "PullImage");
        var process = new KataAgent.Protocols.Extensions.ImageProcess { Cwd = "/srv", Uid = 1000, Gid = 1000 };
        process.Args.Add(["/bin/app", "--flag"]);
        process.Env.Add("PATH=/bin");
        return new KataAgent.Protocols.Extensions.PullImageResponse { Rootfs = $"/run/kata-containers/{request.ContainerId}/rootfs", ManifestDigest = "sha256:" + new string('a', 64), Process = process };
    }

    public Task<Container> OpenContainerAsync(string containerId, ContainerOptions? options, CancellationToken cancellationToken) =>
        Task.FromResult(Container.Handle(null!, containerId, "", options ?? new ContainerOptions()));

    private Task Call(string entry, string rpc)
    {
        log.Add(entry);
        return Refuse.TryGetValue(rpc, out var code)
            ? Task.FromException(new AgentStatusException(rpc, code, $"refused by the fake agent"))
            : Task.CompletedTask;
    }
}
