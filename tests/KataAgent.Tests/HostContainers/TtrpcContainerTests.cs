namespace KataAgent.Tests.HostContainers;

/// <summary><see cref="ContainerTests"/> over ttrpc, on the same agent binary.</summary>
public sealed class TtrpcContainerTests(TtrpcContainerAgentFixture fixture) : ContainerTests(fixture), Xunit.IClassFixture<TtrpcContainerAgentFixture>;
