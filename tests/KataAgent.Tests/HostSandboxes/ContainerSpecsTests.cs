using KataAgent.Protocols;
using FluentAssertions;
using KataAgent.Host.Sandboxes;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>The default spec's shape and the host-side id rule.</summary>
public sealed class ContainerSpecsTests
{
    [Fact]
    public void Default_spec_is_crun_spec_shaped_with_the_given_command_and_terminal()
    {
        var spec = ContainerSpecs.Default(["echo", "hi"], terminal: true);

        spec.Process.Args.Should().Equal("echo", "hi");
        spec.Process.Terminal.Should().BeTrue();
        spec.Root.Path.Should().Be("rootfs");
        spec.Linux.Namespaces.Select(n => n.Type).Should().BeEquivalentTo(["pid", "ipc", "uts", "mount"]);
        spec.Mounts.Select(m => m.Destination).Should().Equal("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys");
        spec.Process.Capabilities.Bounding.Should().Contain("CAP_KILL").And.NotContain("CAP_SYS_ADMIN");
        spec.Process.NoNewPrivileges.Should().BeTrue();
        ContainerSpecs.Default("/srv/rootfs", ["true"]).Root.Path.Should().Be("/srv/rootfs");
        var empty = () => ContainerSpecs.Default([], terminal: false);
        empty.Should().Throw<ArgumentException>().WithMessage("*args*");
    }

    [Theory]
    [InlineData("web-1")]
    [InlineData("a.b_c")]
    [InlineData("0")]
    public void Safe_ids_pass(string id) => ContainerIds.Problem(id).Should().BeNull();

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("../etc", "may hold only")]
    [InlineData("a/b", "may hold only")]
    [InlineData("-x", "must start with a letter or digit")]
    [InlineData("sp ace", "may hold only")]
    public void Unsafe_ids_are_refused_naming_the_parameter(string id, string problem)
    {
        var validate = () => ContainerIds.Validate(id, "containerId");
        validate.Should().Throw<ArgumentException>().Which.Message.Should().Contain("containerId").And.Contain(problem);
        var tooLong = () => ContainerIds.Validate(new string('a', 129), "containerId");
        tooLong.Should().Throw<ArgumentException>().WithMessage("*longer than 128*");
    }
}
