using FluentAssertions;
using KataAgent.Shim.Cli;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>Which shim serves a task: a pod's containers share their sandbox's.</summary>
public sealed class ShimGroupTests
{
    private static string Group(string annotations, string id = "task1") =>
        ShimGroup.FromSpec(System.Text.Encoding.UTF8.GetBytes(
            """{"ociVersion":"1.1.0","process":{"args":["sh"]},"annotations":""" + annotations + ""","root":{"path":"rootfs"}}"""), "config.json", id);

    [Fact]
    public void A_cri_container_joins_its_sandbox()
    {
        Group("""{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"sb123"}""").Should().Be("sb123");
    }

    [Fact]
    public void A_cri_o_container_joins_its_sandbox()
    {
        Group("""{"io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.SandboxID":"sb456"}""").Should().Be("sb456");
    }

    [Fact]
    public void The_sandbox_itself_is_its_own_group()
    {
        Group("""{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"sb123"}""", "sb123").Should().Be("sb123");
        Group("""{"io.kubernetes.cri-o.ContainerType":"sandbox","io.kubernetes.cri-o.SandboxID":"sb9"}""", "other").Should().Be("other");
    }

    [Fact]
    public void A_lone_task_is_its_own_group()
    {
        Group("""{"io.kubernetes.cri.sandbox-id":"sb123"}""").Should().Be("task1", "only a container-type 'container' joins a sandbox");
        Group("{}").Should().Be("task1");
        ShimGroup.FromSpec("""{"ociVersion":"1.1.0"}"""u8, "config.json", "task1").Should().Be("task1");
        ShimGroup.FromSpec("""{"annotations":null}"""u8, "config.json", "task1").Should().Be("task1");
    }

    [Fact]
    public void A_container_without_a_sandbox_id_is_refused()
    {
        var act = () => Group("""{"io.kubernetes.cri.container-type":"container"}""");

        act.Should().Throw<ShimUsageException>().WithMessage("config.json: annotations.io.kubernetes.cri.container-type is 'container' but annotations.io.kubernetes.cri.sandbox-id is missing");
    }

    [Fact]
    public void A_sandbox_id_that_is_no_identifier_is_refused()
    {
        var act = () => Group("""{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"../x"}""");

        act.Should().Throw<ShimUsageException>().WithMessage("config.json: annotations.io.kubernetes.cri.sandbox-id '../x' is not a containerd identifier*");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"annotations\":[1]}")]
    [InlineData("{\"annotations\":{\"a\":1}}")]
    [InlineData("{\"annotations\":")]
    public void A_spec_that_is_no_object_is_refused(string json)
    {
        var act = () => ShimGroup.FromSpec(System.Text.Encoding.UTF8.GetBytes(json), "/b/config.json", "task1");

        act.Should().Throw<ShimUsageException>().WithMessage("/b/config.json: not an OCI runtime spec*");
    }

    [Fact]
    public void A_missing_config_is_named()
    {
        using var bundle = new TempDirectory();

        var act = () => ShimGroup.Resolve(bundle.Path, "task1");

        act.Should().Throw<ShimUsageException>().WithMessage($"{bundle.File("config.json")}: *");
    }
}
