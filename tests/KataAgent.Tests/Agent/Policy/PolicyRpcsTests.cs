using FluentAssertions;
using KataAgent.Agent.Policy;
using Xunit;

namespace KataAgent.Tests.Agent.Policy;

/// <summary>The policy's governed services, named by literals so binding them needs no descriptor, are the generated descriptors' services.</summary>
public sealed class PolicyRpcsTests
{
    [Fact]
    public void The_governed_service_names_are_the_generated_descriptors_full_names()
    {
        PolicyRpcs.GovernedServices.Should().Equal(PolicyRpcs.GovernedDescriptors().Select(s => s.FullName));
    }

    [Fact]
    public void Health_is_not_governed_and_the_agent_service_and_its_methods_are()
    {
        PolicyRpcs.Governs("grpc.Health").Should().BeFalse();
        PolicyRpcs.Governs("grpc.AgentService").Should().BeTrue();
        PolicyRpcs.Governs("kataagent.v1.Streaming").Should().BeTrue();
        PolicyRpcs.Names.Should().Contain(["CreateContainer", "ExecProcess", "Attach"]).And.NotContain("Check");
    }
}
