using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

public class Cgroup2MountTests
{
    [Fact]
    public void The_cgroup2_mount_of_a_hybrid_host_is_found()
    {
        const string mountinfo =
            "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
            "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
            "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        Cgroup2Mount.FindIn(mountinfo).Should().Be("/sys/fs/cgroup/unified");
    }

    [Fact]
    public void The_cgroup2_mount_of_a_unified_guest_is_found_and_escapes_are_decoded()
    {
        Cgroup2Mount.FindIn("25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
            .Should().Be("/sys/fs/cgroup");
        Cgroup2Mount.FindIn("25 1 0:23 / /mnt/my\\040cgroup rw - cgroup2 none rw\n").Should().Be("/mnt/my cgroup");
    }

    [Fact]
    public void No_cgroup2_mount_gives_null()
    {
        Cgroup2Mount.FindIn("31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n").Should().BeNull();
    }

    [Fact]
    public void This_machine_has_a_cgroup2_hierarchy()
    {
        string? mount = Cgroup2Mount.Find();
        mount.Should().NotBeNull("the tests of the real hierarchy need one");
        File.Exists(Path.Combine(mount!, "cgroup.procs")).Should().BeTrue();
    }
}
