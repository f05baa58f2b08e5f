using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Files;
using Xunit;

namespace KataAgent.Tests.Agent.Files;

/// <summary>CopyFile's path as text: what is below the root, and every way of not being so.</summary>
public class CopyFilePathTests
{
    private const string Root = "/run/kata-containers";

    [Theory]
    [InlineData("/run/kata-containers/a", new[] { "a" })]
    [InlineData("/run/kata-containers/shared/containers/c1/hosts", new[] { "shared", "containers", "c1", "hosts" })]
    [InlineData("/run/kata-containers/..data", new[] { "..data" })]
    public void A_path_below_the_root_gives_its_components_below_it(string path, string[] components) =>
        CopyFilePath.ComponentsBelow(Root, path).Should().Equal(components);

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("run/kata-containers/a", "is not absolute")]
    [InlineData("/run/kata-containers/a/../../../etc/passwd", "contains a '..' component")]
    [InlineData("/run/kata-containers/..", "contains a '..' component")]
    [InlineData("/run/kata-containers/./a", "is not normalised")]
    [InlineData("/run/kata-containers//a", "is not normalised")]
    [InlineData("/run/kata-containers/a/", "is not normalised")]
    [InlineData("/run/kata-containers", "is not below /run/kata-containers")]
    [InlineData("/run/kata-containersX/a", "is not below /run/kata-containers")]
    [InlineData("/etc/passwd", "is not below /run/kata-containers")]
    [InlineData("/run/kata-containers/a\0b", "contains a NUL byte")]
    public void Other_paths_are_invalid_arguments_naming_path(string path, string problem)
    {
        var refuse = () => CopyFilePath.ComponentsBelow(Root, path);
        var error = refuse.Should().Throw<AgentException>().Which;
        error.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        error.Field.Should().Be("path");
        error.Problem.Should().Contain(problem);
    }

    [Fact]
    public void A_component_longer_than_NAME_MAX_is_refused_and_a_long_name_gets_a_short_temporary_name()
    {
        var refuse = () => CopyFilePath.ComponentsBelow(Root, $"{Root}/{new string('x', 256)}");
        refuse.Should().Throw<AgentException>().Which.Field.Should().Be("path");

        FileCopier.TemporaryName("hosts").Should().Be(".kata-copy.hosts");
        FileCopier.TemporaryName(new string('x', 255)).Should().MatchRegex("^\\.kata-copy\\.[0-9a-f]{64}$");
    }
}
