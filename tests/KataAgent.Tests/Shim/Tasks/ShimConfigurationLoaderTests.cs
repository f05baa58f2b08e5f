using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.RuntimeOptions;
using KataAgent.Shim.Config;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

public sealed class ShimConfigurationLoaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static Any RuntimeOptions(string path) =>
        new() { TypeUrl = ShimConfigurationLoader.RuntimeOptionsTypeUrl, Value = new Options { ConfigPath = path }.ToByteString() };

    [Fact]
    public void The_runtime_options_path_wins_then_the_environment_then_the_default()
    {
        ShimConfigurationLoader.Resolve(RuntimeOptions("/etc/a.json"), _ => "/etc/env.json").Should().Be("/etc/a.json");
        ShimConfigurationLoader.Resolve(null, name => name == ShimConfigurationLoader.EnvironmentVariable ? "/etc/env.json" : null).Should().Be("/etc/env.json");
        ShimConfigurationLoader.Resolve(RuntimeOptions(""), _ => null).Should().Be(ShimConfigurationLoader.DefaultPath);
        ShimConfigurationLoader.Resolve(new Any(), _ => null).Should().Be(ShimConfigurationLoader.DefaultPath, "an empty Any is no options");
    }

    [Fact]
    public void Options_of_another_type_or_a_relative_path_are_refused()
    {
        var runc = () => ShimConfigurationLoader.Resolve(new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFromUtf8("x") }, _ => null);
        runc.Should().Throw<ShimConfigurationException>().WithMessage("*containerd.runc.v1.Options*");
        var relative = () => ShimConfigurationLoader.Resolve(RuntimeOptions("conf.json"), _ => null);
        relative.Should().Throw<ShimConfigurationException>().WithMessage("*conf.json*absolute*");
    }

    [Fact]
    public void A_minimal_file_gets_the_documented_defaults()
    {
        string kernel = Touch("vmlinuz");
        string initrd = Touch("initrd.img");

        var config = ShimConfigurationLoader.Parse(Encoding.UTF8.GetBytes($$"""{ "kernel": "{{kernel}}", "initrd": "{{initrd}}" }"""), "c.json");

        config.Qemu.Should().Be("qemu-system-x86_64");
        config.Virtiofsd.Should().Be("/usr/lib/qemu/virtiofsd");
        config.StateRoot.Should().Be("/run/kataagent/shim");
        config.AllowKvm.Should().BeTrue();
        config.NetworkModel.Should().Be("tcfilter");
        config.AgentTimeoutSeconds.Should().Be(120);
        config.DebugConsole.Should().BeFalse();
        ShimConfigurationLoader.RootfsModeOf(config).Should().Be(KataAgent.Host.Sandboxes.RootfsMode.VirtioFs);
        ShimConfigurationLoader.AgentChannelOf(config).Should().Be(KataAgent.Host.Vm.QemuAgentChannel.Vsock);
        config.Sizing.Should().BeEquivalentTo(new KataAgent.Shim.Sizing.SizingOptions(), "no sizing object: the sizing defaults");
    }

    [Fact]
    public void A_checkpointable_configuration_names_blk_and_serial()
    {
        string json = $$"""{ "kernel": "{{Touch("vmlinuz")}}", "initrd": "{{Touch("initrd.img")}}", "rootfsMode": "blk", "agentChannel": "serial" }""";

        var config = ShimConfigurationLoader.Parse(Encoding.UTF8.GetBytes(json), "c.json");

        ShimConfigurationLoader.RootfsModeOf(config).Should().Be(KataAgent.Host.Sandboxes.RootfsMode.Blk);
        ShimConfigurationLoader.AgentChannelOf(config).Should().Be(KataAgent.Host.Vm.QemuAgentChannel.Serial);
    }

    [Fact]
    public void A_partial_sizing_object_keeps_the_defaults_of_the_keys_it_leaves_out()
    {
        string json = $$"""{ "kernel": "{{Touch("vmlinuz")}}", "initrd": "{{Touch("initrd.img")}}", "sizing": { "maxCpus": 2 } }""";

        var config = ShimConfigurationLoader.Parse(Encoding.UTF8.GetBytes(json), "c.json");

        config.Sizing.Should().BeEquivalentTo(new KataAgent.Shim.Sizing.SizingOptions() with { MaxCpus = 2 });
    }

    [Theory]
    [InlineData("""{ "initrd": "@initrd" }""", "kernel is required")]
    [InlineData("""{ "kernel": "/nonexistent/vmlinuz", "initrd": "@initrd" }""", "kernel '/nonexistent/vmlinuz' does not exist")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "networkModel": "bridge" }""", "networkModel 'bridge'")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "agentTimeoutSeconds": 0 }""", "agentTimeoutSeconds 0")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "rootfsMode": "9p" }""", "rootfsMode '9p' is not virtiofs or blk")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "agentChannel": "tcp" }""", "agentChannel 'tcp' is not vsock or serial")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "stateRoot": "run/x" }""", "stateRoot 'run/x'")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "allowKvm": "yes" }""", "$.allowKvm")]
    [InlineData("""{ "kernel": "@kernel", "initrd": "@initrd", "kernal": "typo" }""", "kernal")]
    public void A_wrong_file_is_refused_naming_the_path_and_the_field(string json, string expected)
    {
        json = json.Replace("@kernel", Touch("vmlinuz")).Replace("@initrd", Touch("initrd.img"));

        var parse = () => ShimConfigurationLoader.Parse(Encoding.UTF8.GetBytes(json), "/etc/kataagent/configuration.json");

        parse.Should().Throw<ShimConfigurationException>()
            .Where(e => e.Message.StartsWith("shim configuration /etc/kataagent/configuration.json: ", StringComparison.Ordinal) && e.Message.Contains(expected));
    }

    [Fact]
    public void A_missing_file_says_where_the_configuration_comes_from()
    {
        var load = () => ShimConfigurationLoader.Load(_temp.File("absent.json"));

        load.Should().Throw<ShimConfigurationException>().WithMessage($"*absent.json: does not exist*{ShimConfigurationLoader.EnvironmentVariable}*");
    }

    private string Touch(string name)
    {
        string path = _temp.File(name);
        File.WriteAllText(path, "");
        return path;
    }
}
