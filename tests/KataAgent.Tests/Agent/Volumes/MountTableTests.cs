using FluentAssertions;
using KataAgent.Linux.Mounts;
using KataAgent.Agent.Storage.SharedFs;
using Xunit;

namespace KataAgent.Tests.Agent.Volumes;

public class MountTableTests
{
    private const string Sample = """
        22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
        30 22 254:16 / /run/kata-containers/sandbox/storage/vol\040one rw,relatime shared:9 - ext4 /dev/vdb rw
        31 22 0:45 / /run/kata-containers/shared/containers rw - virtiofs kataShared rw
        32 31 0:46 / /run/kata-containers/shared/containers/c1/rootfs rw - virtiofs kataShared rw
        33 31 0:47 / /run/kata-containers/shared/containers/c1/mounts/x rw master:3 - tmpfs tmpfs rw,size=65536k
        34 22 0:48 / /run/kata-containers/sandbox/shm rw,nosuid - tmpfs shm rw,size=4096k
        35 34 0:49 / /run/kata-containers/sandbox/shm rw,nosuid - tmpfs shm rw,size=8192k
        not a mountinfo line
        """;

    [Fact]
    public void Lines_are_parsed_with_escapes_undone_and_the_optional_fields_skipped()
    {
        var mounts = MountTable.Parse(Sample);

        mounts.Should().HaveCount(7);
        mounts[1].Should().Be(new MountTableEntry("/run/kata-containers/sandbox/storage/vol one", 254, 16, "ext4", "/dev/vdb", "rw"));
        mounts[4].FilesystemType.Should().Be("tmpfs");
        mounts[4].SuperOptions.Should().Be("rw,size=65536k");
    }

    [Fact]
    public void The_mount_a_lookup_sees_is_the_last_one_stacked_on_the_point()
    {
        var mounts = MountTable.Parse(Sample);

        MountTable.FindMountPoint(mounts, "/run/kata-containers/sandbox/shm")!.SuperOptions.Should().Be("rw,size=8192k");
        MountTable.FindMountPoint(mounts, "/run/kata-containers/sandbox").Should().BeNull();
    }

    [Fact]
    public void Share_mount_candidates_are_the_mounts_strictly_below_the_shared_directory()
    {
        StaleShareMounts.Candidates(MountTable.Parse(Sample)).Should().Equal(
            "/run/kata-containers/shared/containers/c1/rootfs",
            "/run/kata-containers/shared/containers/c1/mounts/x");
    }
}
