using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Agent.Config;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Policy;
using KataAgent.Agent.Server.Binding;
using KataAgent.Protocols.Agent;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.Agent.Policy;

/// <summary>Where the boot policy and the mem-agent settings come from, and the protocol-neutral gate every binder wraps handlers with.</summary>
public sealed class PolicyConfigTests
{
    private static string? NoEnvironment(string name) => null;

    [Fact]
    public void The_boot_policy_is_the_default_file_unless_named_and_a_named_one_is_required()
    {
        var none = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "quiet");
        none.PolicyFile.Should().Be("/etc/kataagent/policy.json");
        none.PolicyFileRequired.Should().BeFalse("the image's default file is read only when it exists");

        var kernel = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.policy_file=/etc/p.json");
        (kernel.PolicyFile, kernel.PolicyFileRequired).Should().Be(("/etc/p.json", true));
        var environment = AgentConfigLoader.Load(new AgentArguments(), n => n == "KATA_AGENT_POLICY_FILE" ? "/run/env.json" : null, "agent.policy_file=/etc/p.json");
        environment.PolicyFile.Should().Be("/run/env.json");
        var flag = AgentConfigLoader.Load(AgentArguments.Parse(["--policy-file", "/tmp/flag.json"]), n => n == "KATA_AGENT_POLICY_FILE" ? "/run/env.json" : null, "agent.policy_file=/etc/p.json");
        flag.PolicyFile.Should().Be("/tmp/flag.json");

        var relative = () => AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.policy_file=p.json");
        relative.Should().Throw<AgentConfigException>().WithMessage("agent.policy_file: 'p.json' is not an absolute path");
    }

    [Fact]
    public void Mem_agent_options_of_the_kernel_command_line_set_its_starting_settings_and_bad_ones_are_named()
    {
        var config = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment,
            "agent.mem_agent_enable agent.mem_agent_memcg_swap agent.mem_agent_memcg_swappiness_max=80 agent.mem_agent_memcg_period_secs=60 " +
            "agent.mem_agent_compact_disable agent.mem_agent_compact_order=8 agent.mem_agent_compact_force_times=3");
        config.MemAgentEnabled.Should().BeTrue();
        config.MemcgSettings.Should().Be(new KataAgent.Agent.MemAgent.MemcgSettings { Swap = true, SwappinessMax = 80, PeriodSecs = 60 });
        config.CompactSettings.Should().Be(new KataAgent.Agent.MemAgent.CompactSettings { Disabled = true, CompactOrder = 8, CompactForceTimes = 3 });
        AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "quiet").MemAgentEnabled.Should().BeFalse("off unless asked, as in Kata");

        var swappiness = () => AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.mem_agent_memcg_swappiness_max=300");
        swappiness.Should().Throw<AgentConfigException>().WithMessage("agent.mem_agent_memcg_swappiness_max: 300 is above 200");
        var period = () => AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.mem_agent_compact_period_secs=0");
        period.Should().Throw<AgentConfigException>().WithMessage("agent.mem_agent_compact_period_secs: 0 is not in 1..2147483647 seconds");
    }

    [Fact]
    public async Task The_gate_checks_governed_services_before_the_handler_and_leaves_health_alone()
    {
        var policy = new AgentPolicy(NullLogger<AgentPolicy>.Instance);
        policy.Set("""{ "version": 1, "default": "deny" }""");
        var gate = new PolicyGate(policy);
        int calls = 0;
        UnaryServerMethod<ExecProcessRequest, Google.Protobuf.WellKnownTypes.Empty> handler = (_, _) =>
        {
            calls++;
            return Task.FromResult(new Google.Protobuf.WellKnownTypes.Empty());
        };

        var exec = new Method<ExecProcessRequest, Google.Protobuf.WellKnownTypes.Empty>(MethodType.Unary, "grpc.AgentService", "ExecProcess",
            Marshallers.Create(r => r.ToByteArray(), ExecProcessRequest.Parser.ParseFrom), Marshallers.Create(r => r.ToByteArray(), Google.Protobuf.WellKnownTypes.Empty.Parser.ParseFrom));
        Action denied = () => gate.Wrap(exec, handler)(new ExecProcessRequest(), null!);
        denied.Should().Throw<AgentException>().Which.Kind.Should().Be(AgentErrorKind.PermissionDenied);
        calls.Should().Be(0, "a denied call never reaches its handler");

        var check = new Method<ExecProcessRequest, Google.Protobuf.WellKnownTypes.Empty>(MethodType.Unary, "grpc.Health", "Check", exec.RequestMarshaller, exec.ResponseMarshaller);
        gate.Wrap(check, handler).Should().BeSameAs(handler, "grpc.Health is not governed");
        await gate.Wrap(check, handler)(new ExecProcessRequest(), null!);
        calls.Should().Be(1);
    }
}
