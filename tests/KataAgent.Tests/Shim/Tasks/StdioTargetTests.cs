using FluentAssertions;
using KataAgent.Shim.Tasks;
using KataAgent.Shim.Tasks.Stdio;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

public sealed class StdioTargetTests
{
    [Fact]
    public void Paths_FIFOs_and_files_are_told_apart_and_empty_means_none()
    {
        StdioTarget.Parse("", "stdout").Should().Be(StdioTarget.None);
        StdioTarget.Parse("/run/containerd/fifo/1/c1-stdout", "stdout").Should().Be(new StdioTarget(StdioKind.Fifo, "/run/containerd/fifo/1/c1-stdout"));
        StdioTarget.Parse("fifo:///tmp/f", "stdout").Should().Be(new StdioTarget(StdioKind.Fifo, "/tmp/f"));
        StdioTarget.Parse("file:///var/log/c1.log", "stdout").Should().Be(new StdioTarget(StdioKind.File, "/var/log/c1.log"));
        var binary = StdioTarget.Parse("binary:///usr/local/bin/my%20logger?x=1&x=2&tag=web", "stdout");
        binary.Kind.Should().Be(StdioKind.Binary);
        binary.Path.Should().Be("/usr/local/bin/my logger");
        binary.Arguments.Should().Equal(["x", "1", "tag", "web"], "each key once, with its first value, as containerd's NewBinaryCmd takes url.Query()");
    }

    [Fact]
    public void Relative_paths_and_unknown_schemes_are_refused_by_field()
    {
        var relative = () => StdioTarget.Parse("c1-stdout", "stderr");
        relative.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.StartsWith("stderr:", StringComparison.Ordinal));
        var scheme = () => StdioTarget.Parse("npipe://x", "stdout");
        scheme.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument);
        var relativeBinary = () => StdioTarget.Parse("binary://logger?x=1", "stdout");
        relativeBinary.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.StartsWith("stdout:", StringComparison.Ordinal));
    }
}
