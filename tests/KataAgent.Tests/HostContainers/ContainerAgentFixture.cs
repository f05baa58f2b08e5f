using KataAgent.Host;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostContainers;

/// <summary>
/// One published agent (stand-alone, as root) and one busybox rootfs shared by a test class, and a client in
/// <see cref="Protocol"/> (gRPC here; <see cref="TtrpcContainerAgentFixture"/> speaks ttrpc to the same kind of agent).
/// </summary>
public class ContainerAgentFixture : IAsyncLifetime
{
    private AgentProcess? _agent;
    private BusyboxRootfs? _rootfs;
    private AgentClient? _client;
    private int _next;

    public AgentProcess Agent => _agent ?? throw new InvalidOperationException("the agent is not started");

    public string RootfsPath => (_rootfs ?? throw new InvalidOperationException("no rootfs")).Path;

    /// <summary>The protocol <see cref="Client"/> speaks.</summary>
    public virtual AgentProtocol Protocol => AgentProtocol.Grpc;

    /// <summary>A client shared by the tests (the streaming probe is cached per client).</summary>
    public AgentClient Client => _client ?? throw new InvalidOperationException("not connected");

    /// <summary>A container id no other test of this fixture uses.</summary>
    public string NewId(string prefix) => $"{prefix}-{Interlocked.Increment(ref _next)}";

    public async Task InitializeAsync()
    {
        _rootfs = await BusyboxRootfs.CreateAsync();
        _agent = AgentProcess.StartOnUnixSocket();
        _client = await _agent.ConnectAsync(new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20), Protocol = Protocol });
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }
        _rootfs?.Dispose();
    }
}
