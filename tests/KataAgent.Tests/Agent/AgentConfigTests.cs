using FluentAssertions;
using KataAgent.Agent.Config;
using KataAgent.Linux.Addressing;
using Microsoft.Extensions.Logging;
using Xunit;

namespace KataAgent.Tests.Agent;

public class AgentConfigTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Defaults_match_kata()
    {
        var config = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet");
        config.ServerAddress.Should().Be(AgentAddress.Parse("vsock://-1:1024"));
        config.LogLevel.Should().Be(LogLevel.Information);
        config.HotplugTimeout.Should().Be(TimeSpan.FromSeconds(3));
        config.DebugConsole.Should().BeFalse();
        config.UnknownKernelOptions.Should().BeEmpty();
    }

    [Fact]
    public void Kernel_command_line_agent_options_are_read_and_unknown_ones_remembered()
    {
        var config = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment,
            "console=ttyS0 agent.server_addr=serial://agent.channel.0 agent.log=debug agent.log_vport=1025 agent.debug_console agent.debug_console_vport=1026 agent.hotplug_timeout=10 agent.container_pipe_size=65536 agent.devmode agent.frobnicate=1 quiet\n");
        config.ServerAddress.SerialPortName.Should().Be("agent.channel.0");
        config.LogLevel.Should().Be(LogLevel.Debug);
        config.LogVport.Should().Be(1025u);
        config.DebugConsole.Should().BeTrue();
        config.DebugConsoleVport.Should().Be(1026u);
        config.HotplugTimeout.Should().Be(TimeSpan.FromSeconds(10));
        config.ContainerPipeSize.Should().Be(65536);
        config.DevMode.Should().BeTrue();
        config.UnknownKernelOptions.Should().Equal("agent.frobnicate=1");
    }

    [Fact]
    public void Environment_overrides_kernel_command_line_and_flags_override_both()
    {
        var environment = new Dictionary<string, string?>
        {
            ["KATA_AGENT_SERVER_ADDR"] = "unix:///run/env.sock",
            ["KATA_AGENT_LOG_LEVEL"] = "warn",
        };
        string cmdline = "agent.server_addr=vsock://-1:2000 agent.log=debug";

        var fromEnvironment = AgentConfigLoader.Load(new AgentArguments(), k => environment.GetValueOrDefault(k), cmdline);
        fromEnvironment.ServerAddress.Path.Should().Be("/run/env.sock");
        fromEnvironment.LogLevel.Should().Be(LogLevel.Warning);

        var fromFlags = AgentConfigLoader.Load(AgentArguments.Parse(["--server-addr", "tcp://127.0.0.1:7000", "--log=error"]), k => environment.GetValueOrDefault(k), cmdline);
        fromFlags.ServerAddress.Port.Should().Be(7000u);
        fromFlags.LogLevel.Should().Be(LogLevel.Error);
    }

    [Fact]
    public void Debug_console_and_log_channel_addresses_follow_kata_options_and_flags_override_them()
    {
        var none = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "quiet");
        none.DebugConsoleAddress.Should().BeNull();
        none.LogListenAddress.Should().BeNull();
        none.LogPortAddress.Should().Be(AgentAddress.Parse("serial://agent.log.0"));

        var serial = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.debug_console");
        serial.DebugConsoleAddress.Should().Be(AgentAddress.Parse("serial://agent.debug_console.0"));

        var vsock = AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, "agent.debug_console agent.debug_console_vport=1026 agent.log_vport=1025");
        vsock.DebugConsoleAddress.Should().Be(AgentAddress.Parse("vsock://-1:1026"));
        vsock.LogListenAddress.Should().Be(AgentAddress.Parse("vsock://-1:1025"));

        var environment = new Dictionary<string, string?> { ["KATA_AGENT_DEBUG_CONSOLE"] = "serial:///dev/pts/9", ["KATA_AGENT_LOG_PORT"] = "none" };
        var fromEnvironment = AgentConfigLoader.Load(new AgentArguments(), k => environment.GetValueOrDefault(k), "quiet");
        fromEnvironment.DebugConsole.Should().BeTrue();
        fromEnvironment.DebugConsoleAddress!.Path.Should().Be("/dev/pts/9");
        fromEnvironment.LogPortAddress.Should().BeNull();

        var fromFlags = AgentConfigLoader.Load(AgentArguments.Parse(["--debug-console", "unix:///run/c.sock", "--log-listen", "unix:///run/l.sock", "--log-port", "serial://other.log"]), k => environment.GetValueOrDefault(k), "agent.debug_console");
        fromFlags.DebugConsoleAddress!.Path.Should().Be("/run/c.sock");
        fromFlags.LogListenAddress!.Path.Should().Be("/run/l.sock");
        fromFlags.LogPortAddress!.SerialPortName.Should().Be("other.log");
    }

    [Theory]
    [InlineData("--debug-console", "tcp://127.0.0.1:5", "--debug-console: tcp://127.0.0.1:5 is not one of serial://, vsock://, unix://")]
    [InlineData("--log-listen", "serial://agent.log.0", "--log-listen: serial://agent.log.0 is not one of vsock://, unix://")]
    [InlineData("--log-port", "vsock://-1:1025", "--log-port: vsock://-1:1025 is not one of serial://")]
    public void Channel_addresses_of_the_wrong_kind_are_refused(string flag, string value, string message)
    {
        var load = () => AgentConfigLoader.Load(AgentArguments.Parse([flag, value]), NoEnvironment, null);
        load.Should().Throw<AgentConfigException>().WithMessage(message);
    }

    [Theory]
    [InlineData("agent.server_addr=vsock://x:1", "agent.server_addr", "CID 'x'")]
    [InlineData("agent.server_addr", "agent.server_addr", "needs a value")]
    [InlineData("agent.log=loud", "agent.log", "'loud'")]
    [InlineData("agent.hotplug_timeout=0", "agent.hotplug_timeout", "at least 1 second")]
    [InlineData("agent.log_vport=-5", "agent.log_vport", "'-5'")]
    [InlineData("agent.debug_console=maybe", "agent.debug_console", "'maybe'")]
    public void Bad_kernel_options_name_the_option(string cmdline, string option, string problem)
    {
        var load = () => AgentConfigLoader.Load(new AgentArguments(), NoEnvironment, cmdline);
        load.Should().Throw<AgentConfigException>().Which.Message.Should().StartWith(option).And.Contain(problem);
    }

    [Fact]
    public void Bad_environment_address_names_the_variable()
    {
        var load = () => AgentConfigLoader.Load(new AgentArguments(), k => k == "KATA_AGENT_SERVER_ADDR" ? "nonsense" : null, null);
        load.Should().Throw<AgentConfigException>().WithMessage("KATA_AGENT_SERVER_ADDR: invalid agent address 'nonsense'*");
    }

    [Theory]
    [InlineData(new[] { "--frob" }, "unknown argument '--frob'")]
    [InlineData(new[] { "--server-addr" }, "--server-addr: needs a value")]
    public void Bad_flags_are_reported(string[] args, string message)
    {
        var parse = () => AgentArguments.Parse(args);
        parse.Should().Throw<AgentConfigException>().WithMessage($"*{message}*");
    }
}
