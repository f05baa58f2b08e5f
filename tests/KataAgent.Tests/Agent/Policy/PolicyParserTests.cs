using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Policy;
using Xunit;

namespace KataAgent.Tests.Agent.Policy;

/// <summary>The policy document's parser and globs, without an agent.</summary>
public sealed class PolicyParserTests
{
    [Theory]
    [InlineData("docker.io/library/busybox:*", "docker.io/library/busybox:1.36", true)]
    [InlineData("docker.io/library/busybox:*", "docker.io/library/busybox", false)]
    [InlineData("/run/kata-containers/shared/*", "/run/kata-containers/shared/containers/a/b", true)]
    [InlineData("io.kubernetes.*", "io.katacontainers.x", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("*", "", true)]
    [InlineData("", "x", false)]
    public void Globs_match_the_whole_text(string pattern, string text, bool expected) =>
        GlobPattern.IsMatch(pattern, text).Should().Be(expected);

    [Fact]
    public void A_full_document_compiles_with_its_decisions_and_rules()
    {
        var policy = PolicyParser.Parse("""
            {
              "version": 1, "default": "deny",
              "rpcs": { "CreateContainer": "allow", "ExecProcess": "allow", "Attach": "deny" },
              "createContainer": { "images": ["x/*"], "privileged": false, "allowRoot": false },
              "execProcess": { "capabilities": ["net_bind_service"], "allowTerminal": false }
            }
            """);

        policy.Allows("CreateContainer", out string rule).Should().BeTrue();
        rule.Should().Be("rpcs.CreateContainer");
        policy.Allows("ListRoutes", out rule).Should().BeFalse();
        rule.Should().Be("default");
        policy.CreateContainer!.AllowedCapabilities.Should().BeEquivalentTo(CompiledPolicy.DefaultCapabilities);
        policy.CreateContainer.AllowRoot.Should().BeFalse();
        policy.ExecProcess!.AllowedCapabilities.Should().BeEquivalentTo(["CAP_NET_BIND_SERVICE"]);
        policy.ExecProcess.AllowTerminal.Should().BeFalse();
    }

    [Fact]
    public void Rego_is_a_failed_precondition_and_contradictions_are_refused()
    {
        var rego = () => PolicyParser.Parse("package agent_policy\ndefault AllowRequestsFailingPolicy := true\n");
        rego.Should().Throw<AgentException>().Which.Kind.Should().Be(AgentErrorKind.FailedPrecondition);

        var contradiction = () => PolicyParser.Parse("""{ "version": 1, "default": "allow", "execProcess": { "privileged": true, "capabilities": ["CAP_KILL"] } }""");
        contradiction.Should().Throw<AgentException>().Which.Message.Should().StartWith("policy: execProcess.capabilities: restricts capabilities, but privileged is true");

        var health = () => PolicyParser.Parse("""{ "version": 1, "default": "allow", "rpcs": { "Check": "deny" } }""");
        health.Should().Throw<AgentException>().Which.Message.Should().Be("policy: rpcs.Check: grpc.Health is never subject to the policy");
    }
}
