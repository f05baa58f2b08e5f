using FluentAssertions;
using KataAgent.Host.Sandboxes;
using ImageHost = KataAgent.Host.Images.HostImages;
using KataAgent.Image.Config;
using Xunit;

namespace KataAgent.Tests.HostImages;

/// <summary>The parts of the host's image API that need neither registry nor root: the store's default place and an image's process put into a spec.</summary>
public sealed class HostImagesUnitTests
{
    [Theory]
    [InlineData(true, "/xdg", "/home/u", "/var/lib/kataagent/images")]
    [InlineData(false, "/xdg", "/home/u", "/xdg/kataagent/images")]
    [InlineData(false, null, "/home/u", "/home/u/.local/share/kataagent/images")]
    [InlineData(false, "", "/home/u", "/home/u/.local/share/kataagent/images")]
    [InlineData(false, "relative/dir", "/home/u", "/home/u/.local/share/kataagent/images")]
    public void The_store_is_under_var_lib_for_root_and_the_XDG_data_home_otherwise(bool privileged, string? xdg, string home, string expected)
    {
        ImageHost.DefaultStoreDirectory(privileged, xdg, home).Should().Be(expected);
    }

    [Fact]
    public void An_image_process_replaces_the_spec_s_args_env_cwd_and_user_and_keeps_the_rest()
    {
        var spec = ContainerSpecs.Default(["placeholder"], terminal: false);
        var process = new ImageProcess(["/bin/sh", "-c", "echo hi"], ["PATH=/bin", "GREETING=x"], "/srv/app", 1000, 1000, [50, 60]);

        ContainerSpecs.ApplyImageProcess(spec, process);

        spec.Process.Args.Should().Equal("/bin/sh", "-c", "echo hi");
        spec.Process.Env.Should().Equal("PATH=/bin", "GREETING=x");
        spec.Process.Cwd.Should().Be("/srv/app");
        (spec.Process.User.UID, spec.Process.User.GID).Should().Be((1000u, 1000u));
        spec.Process.User.AdditionalGids.Should().Equal(50u, 60u);
        spec.Process.NoNewPrivileges.Should().BeTrue("the rest of the default spec stays");
        spec.Linux.Namespaces.Should().NotBeEmpty();
    }

    [Fact]
    public void A_terminal_gets_TERM_unless_the_image_sets_one()
    {
        var terminal = ContainerSpecs.ApplyImageProcess(ContainerSpecs.Default(["x"], terminal: true), new ImageProcess(["sh"], ["PATH=/bin"], "/", 0, 0, []));
        var own = ContainerSpecs.ApplyImageProcess(ContainerSpecs.Default(["x"], terminal: true), new ImageProcess(["sh"], ["PATH=/bin", "TERM=vt100"], "/", 0, 0, []));

        terminal.Process.Env.Should().Equal("PATH=/bin", "TERM=xterm");
        own.Process.Env.Should().Equal("PATH=/bin", "TERM=vt100");
    }
}
