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
    }

    [Fact]
    public void Relative_paths_unknown_schemes_and_logging_binaries_are_refused_by_field()
    {
        var relative = () => StdioTarget.Parse("c1-stdout", "stderr");
        relative.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.StartsWith("stderr:", StringComparison.Ordinal));
        var scheme = () => StdioTarget.Parse("npipe://x", "stdout");
        scheme.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument);
        var binary = () => StdioTarget.Parse("binary:///usr/bin/logger?x=1", "stdout");
        binary.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.Unimplemented && e.Message.Contains("binary://"));
    }
}
