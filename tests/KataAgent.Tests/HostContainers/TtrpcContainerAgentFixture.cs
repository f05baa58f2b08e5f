using KataAgent.Host;

namespace KataAgent.Tests.HostContainers;

/// <summary>The same agent and rootfs as <see cref="ContainerAgentFixture"/>, driven over ttrpc.</summary>
public sealed class TtrpcContainerAgentFixture : ContainerAgentFixture
{
    public override AgentProtocol Protocol => AgentProtocol.Ttrpc;
}
