using FluentAssertions;
using KataAgent.Agent.Config;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using Xunit;

namespace KataAgent.Tests.Agent.Images;

/// <summary>Kata's <c>agent.image_registry_auth</c>: read from the kernel command line as given, and the forms a pull can use.</summary>
public sealed class RegistryAuthSettingTests
{
    [Fact]
    public void The_kernel_option_is_kept_as_given_whatever_its_form()
    {
        AgentConfigLoader.Load(new AgentArguments(), _ => null, "agent.image_registry_auth=file:///etc/kata/auth.json quiet").ImageRegistryAuth
            .Should().Be("file:///etc/kata/auth.json");
        AgentConfigLoader.Load(new AgentArguments(), _ => null, "agent.image_registry_auth=kbs:///default/credentials/test").ImageRegistryAuth
            .Should().Be("kbs:///default/credentials/test", "a form a pull cannot use must not keep the agent from booting");
        AgentConfigLoader.Load(new AgentArguments(), _ => null, "quiet").ImageRegistryAuth.Should().BeNull();
    }

    [Theory]
    [InlineData("file:///etc/kata/auth.json", "/etc/kata/auth.json")]
    [InlineData("FILE:///run/auth.json", "/run/auth.json")]
    [InlineData("/run/kata-containers/shared/containers/auth.json", "/run/kata-containers/shared/containers/auth.json")]
    public void A_file_uri_or_an_absolute_path_names_a_guest_file(string setting, string path)
    {
        RegistryAuthSetting.FileOf(setting).Should().Be(path);
    }

    [Theory]
    [InlineData("kbs:///default/credentials/test", "is a Key Broker Service resource")]
    [InlineData("file://host/etc/auth.json", "is not file:///PATH")]
    [InlineData("file://../etc/auth.json", "is not file:///PATH")]
    [InlineData("auth.json", "is not file:///PATH")]
    [InlineData("file:///etc/../root/auth.json", "is not file:///PATH")]
    [InlineData("file:///etc/kata/", "is not file:///PATH")]
    public void Other_forms_are_failed_precondition_naming_the_option(string setting, string problem)
    {
        var refused = FluentActions.Invoking(() => RegistryAuthSetting.FileOf(setting)).Should().Throw<AgentException>().Which;

        refused.Kind.Should().Be(AgentErrorKind.FailedPrecondition);
        refused.Message.Should().StartWith($"agent.image_registry_auth: '{setting}' {problem}");
    }
}
