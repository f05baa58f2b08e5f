using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>One real agent on a unix socket shared by the kactl tests, and the version it reports
/// through the host library (the reference kactl's output is compared with).</summary>
public sealed class KactlAgentFixture : IAsyncLifetime
{
    private AgentProcess? _agent;

    public AgentProcess Agent => _agent ?? throw new InvalidOperationException("the agent is not started");

    public string Address => Agent.Address;

    public string AgentVersion { get; private set; } = "";

    public string ApiVersion { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _agent = AgentProcess.StartOnUnixSocket();
        await using var client = await _agent.ConnectAsync();
        var version = await client.VersionAsync();
        AgentVersion = version.AgentVersion;
        ApiVersion = version.GrpcVersion;
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }
    }
}
