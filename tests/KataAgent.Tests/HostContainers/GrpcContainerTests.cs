namespace KataAgent.Tests.HostContainers;

/// <summary><see cref="ContainerTests"/> over gRPC.</summary>
public sealed class GrpcContainerTests(ContainerAgentFixture fixture) : ContainerTests(fixture), Xunit.IClassFixture<ContainerAgentFixture>;
