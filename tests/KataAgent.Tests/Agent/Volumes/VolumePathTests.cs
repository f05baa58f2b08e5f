using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Storage.Volumes;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Volumes;

public class VolumePathTests
{
    [Theory]
    [InlineData("/run/kata-containers/sandbox/storage/abc", "/run/kata-containers/sandbox/storage/abc")]
    [InlineData("/run/kata-containers/sandbox/storage/abc/", "/run/kata-containers/sandbox/storage/abc")]
    public void A_normalised_path_below_the_tree_is_accepted(string path, string expected) =>
        VolumePath.Validate(path, "volume_guest_path").Should().Be(expected);

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("run/kata-containers/x", "not an absolute path")]
    [InlineData("/run/kata-containers/a\0b", "not an absolute path")]
    [InlineData("/run/kata-containers/../../etc", "not normalised")]
    [InlineData("/run/kata-containers/a/./b", "not normalised")]
    [InlineData("/run/kata-containers//a", "not normalised")]
    [InlineData("/run/kata-containers", "not below /run/kata-containers/")]
    [InlineData("/run/kata-containers/", "not below /run/kata-containers/")]
    [InlineData("/run/kata-containersX/a", "not below /run/kata-containers/")]
    [InlineData("/etc", "not below /run/kata-containers/")]
    public void Anything_else_is_invalid_argument_naming_the_field(string path, string problem)
    {
        var validate = () => VolumePath.Validate(path, "volume_guest_path");
        var error = validate.Should().Throw<AgentException>().Which;
        error.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        error.Field.Should().Be("volume_guest_path");
        error.Problem.Should().Contain(problem);
    }

    [Fact]
    public void A_symlink_on_the_way_is_refused()
    {
        using var root = new TempDirectory();
        string allowed = root.Path + "/";
        Directory.CreateDirectory(root.File("real"));
        File.CreateSymbolicLink(root.File("link"), "/etc");

        VolumePath.Validate(root.File("real"), "f", allowed).Should().Be(root.File("real"));
        var through = () => VolumePath.Validate(root.File("link") + "/ssl", "f", allowed);
        through.Should().Throw<AgentException>().Which.Problem.Should().Contain("symlink " + root.File("link"));
        var last = () => VolumePath.Validate(root.File("link"), "f", allowed);
        last.Should().Throw<AgentException>().Which.Kind.Should().Be(AgentErrorKind.InvalidArgument);
    }
}
