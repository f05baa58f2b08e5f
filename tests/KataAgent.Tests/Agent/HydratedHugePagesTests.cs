using FluentAssertions;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>
/// The published agent links native/HydratedHugePages: the type data Native AOT expands at start (4 MB and more) is
/// advised for transparent huge pages before the runtime starts. Nothing else in the agent asks for huge pages (the
/// GC does not without GCLargePages), so an advised mapping of at least one 2 MiB block is that constructor's.
/// </summary>
public class HydratedHugePagesTests
{
    [Fact]
    public async Task The_agents_expanded_type_data_is_advised_for_huge_pages()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

        HugePageAdvice.AdvisedKiB(agent.ProcessId).Should().BeGreaterThanOrEqualTo(2048);
    }
}
