using FluentAssertions;
using KataAgent.Agent.Pods;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>Volume mounts as bind mounts: sub_path resolved inside the volume whatever its symlinks say, read_only kept.</summary>
public class VolumeMountPathsTests
{
    [Fact]
    public void Mounts_become_binds_of_the_volume_or_a_sub_path_inside_it_made_when_missing()
    {
        using var volume = new TempDirectory();
        var spec = ContainerSpecs.Default("/srv/rootfs", ["true"]);
        int before = spec.Mounts.Count;
        var bound = VolumeMountPaths.Bind(spec,
            [
                new VolumeMount { Volume = "data", ContainerPath = "/data", ReadOnly = true },
                new VolumeMount { Volume = "data", ContainerPath = "/cache", SubPath = "web/cache/" },
            ],
            new Dictionary<string, string> { ["data"] = volume.Path }, "containers[0]");

        spec.Mounts.Should().HaveCount(before, "the request's spec is left as it was");
        bound.Mounts.Skip(before).Select(m => (m.Destination, m.Source, m.Type, string.Join(',', m.Options))).Should().Equal(
            ("/data", volume.Path, "bind", "bind,ro"),
            ("/cache", Path.Combine(volume.Path, "web", "cache"), "bind", "bind,rw"));
        Directory.Exists(Path.Combine(volume.Path, "web", "cache")).Should().BeTrue();
    }

    [Fact]
    public void Symlinks_in_the_volume_resolve_inside_it_never_outside()
    {
        using var volume = new TempDirectory();
        Directory.CreateSymbolicLink(Path.Combine(volume.Path, "etc-link"), "/etc");
        Directory.CreateSymbolicLink(Path.Combine(volume.Path, "up"), "../../../..");
        var bound = VolumeMountPaths.Bind(ContainerSpecs.Default("/srv/rootfs", ["true"]),
            [
                new VolumeMount { Volume = "v", ContainerPath = "/a", SubPath = "etc-link/ssl" },
                new VolumeMount { Volume = "v", ContainerPath = "/b", SubPath = "up/etc" },
            ],
            new Dictionary<string, string> { ["v"] = volume.Path }, "containers[0]");

        var sources = bound.Mounts.TakeLast(2).Select(m => m.Source).ToList();
        sources.Should().Equal(Path.Combine(volume.Path, "etc", "ssl"), Path.Combine(volume.Path, "etc"));
        sources.Should().OnlyContain(s => s.StartsWith(volume.Path + "/"));
        Directory.Exists(Path.Combine(volume.Path, "etc", "ssl")).Should().BeTrue("made inside the volume, not in the host's /etc");
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("a/b", null)]
    [InlineData("a/../b", "holds '..'")]
    [InlineData("..", "holds '..'")]
    [InlineData("/abs", "is absolute")]
    public void Sub_paths_with_dot_dot_or_absolute_are_refused(string subPath, string? problem)
    {
        var found = VolumeMountPaths.SubPathProblem(subPath);
        if (problem is null)
        {
            found.Should().BeNull();
        }
        else
        {
            found.Should().Contain(problem);
        }
    }

    [Fact]
    public void A_sub_path_the_volume_cannot_hold_is_an_invalid_argument_naming_it()
    {
        using var volume = new TempDirectory();
        var bind = () => VolumeMountPaths.Bind(ContainerSpecs.Default("/srv/rootfs", ["true"]),
            [new VolumeMount { Volume = "v", ContainerPath = "/a", SubPath = new string('x', 300) }],
            new Dictionary<string, string> { ["v"] = volume.Path }, "containers[1]");

        var error = bind.Should().Throw<KataAgent.Agent.Errors.AgentException>().Which;
        error.Kind.Should().Be(KataAgent.Agent.Errors.AgentErrorKind.InvalidArgument);
        error.Message.Should().Contain("containers[1].volume_mounts[0].sub_path");
        Directory.EnumerateFileSystemEntries(volume.Path).Should().BeEmpty();
    }
}
