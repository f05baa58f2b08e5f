using FluentAssertions;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.SharedFs;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostShares;

/// <summary>
/// As root, on the host's real mount table: a sandbox's share laid out in its state directory (<see cref="SandboxShare"/>),
/// what the guest's virtiofsd would see through <c>shared/</c>, and every way the state directory goes away
/// (<see cref="StateDirectory.Delete"/>, <see cref="Sandbox.RemoveStaleAsync"/>) without ever deleting through a bind
/// mount or following a symlink a guest planted.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public sealed class SandboxShareTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _state;
    private readonly string _rootfs;
    private readonly string _volume;
    private readonly string _victim;
    private readonly string _mountsBefore;

    public SandboxShareTests()
    {
        _mountsBefore = HostMountTable.ReadWithoutNetns(_temp.Path);
        _state = _temp.File("state");
        _rootfs = _temp.CreateDirectory("rootfs");
        File.WriteAllText(Path.Combine(_rootfs, "marker"), "rootfs\n");
        Directory.CreateDirectory(Path.Combine(_rootfs, "etc"));
        File.WriteAllText(Path.Combine(_rootfs, "etc", "hostname"), "inside\n");
        _volume = _temp.CreateDirectory("volume");
        File.WriteAllText(Path.Combine(_volume, "data"), "volume\n");
        _victim = _temp.CreateDirectory("victim");
        File.WriteAllText(Path.Combine(_victim, "precious"), "keep me\n");
    }

    public void Dispose()
    {
        // Never a plain recursive delete while something may still be mounted in the state directory.
        StateDirectory.Delete(_state);
        _temp.Dispose();
    }

    private static string[] Options(string mountPoint) =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Last(f => f[4] == mountPoint)[5].Split(',');

    [Fact]
    public void The_layout_is_a_shared_mounts_a_read_only_nodev_nosuid_slave_shared_and_a_private_staging_directory()
    {
        var share = SandboxShare.Create(_state);

        StateDirectory.MountPoints(_state).Should().BeEquivalentTo([share.MountsDirectory, share.SharedDirectory, share.PrivateDirectory]);
        Options(share.SharedDirectory).Should().Contain(["ro", "nodev", "nosuid"]);
        var line = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Last(f => f[4] == share.SharedDirectory);
        line.Skip(6).TakeWhile(f => f != "-").Should().Contain(f => f.StartsWith("master:", StringComparison.Ordinal), "shared/ receives what is mounted under mounts/");
        var write = () => File.WriteAllText(Path.Combine(share.SharedDirectory, "top-level"), "x");
        write.Should().Throw<IOException>("the guest must not create entries at the share's top level");
    }

    [Fact]
    public void A_rootfs_bound_later_appears_in_shared_read_write_nodev_and_nosuid_and_writes_go_both_ways()
    {
        var share = SandboxShare.Create(_state);

        string guestPath = share.ShareRootfs("c1", _rootfs);

        guestPath.Should().Be("/run/kata-containers/shared/containers/c1/rootfs");
        string seen = Path.Combine(share.SharedDirectory, "c1", "rootfs");
        File.ReadAllText(Path.Combine(seen, "marker")).Should().Be("rootfs\n");
        Options(seen).Should().Contain(["rw", "nodev", "nosuid"]);
        File.WriteAllText(Path.Combine(seen, "from-guest"), "hello\n");
        File.ReadAllText(Path.Combine(_rootfs, "from-guest")).Should().Be("hello\n");
        File.WriteAllText(Path.Combine(_rootfs, "from-host"), "hi\n");
        File.ReadAllText(Path.Combine(seen, "from-host")).Should().Be("hi\n");
    }

    [Fact]
    public void Volumes_are_named_as_Kata_names_them_and_a_read_only_one_is_read_only_in_shared()
    {
        var share = SandboxShare.Create(_state);
        string file = Path.Combine(_temp.Path, "config.txt");
        File.WriteAllText(file, "file volume\n");

        string rw = share.ShareVolume("c1", _volume, "/data", readOnly: false);
        string ro = share.ShareVolume("c1", _volume, "/data-ro/", readOnly: true);
        string single = share.ShareVolume("c1", file, "/etc/config.txt", readOnly: true);

        rw.Should().MatchRegex("^/run/kata-containers/shared/containers/c1-[0-9a-f]{16}-data$");
        ro.Should().MatchRegex("^/run/kata-containers/shared/containers/c1-[0-9a-f]{16}-data-ro$");
        single.Should().MatchRegex("^/run/kata-containers/shared/containers/c1-[0-9a-f]{16}-config.txt$");
        string Seen(string guestPath) => Path.Combine(share.SharedDirectory, Path.GetFileName(guestPath));
        File.ReadAllText(Path.Combine(Seen(rw), "data")).Should().Be("volume\n");
        Options(Seen(rw)).Should().Contain(["rw", "nodev", "nosuid"]);
        Options(Seen(ro)).Should().Contain(["ro", "nodev", "nosuid"]);
        var write = () => File.WriteAllText(Path.Combine(Seen(ro), "data"), "changed");
        write.Should().Throw<IOException>();
        File.ReadAllText(Seen(single)).Should().Be("file volume\n");
        Options(Seen(single)).Should().Contain("ro");
        Directory.EnumerateFileSystemEntries(share.PrivateDirectory).Should().BeEmpty("the staging binds are undone once bound into mounts/");
    }

    [Fact]
    public void Unsharing_a_container_unmounts_and_removes_only_what_it_created()
    {
        var share = SandboxShare.Create(_state);
        share.ShareRootfs("c1", _rootfs);
        share.ShareVolume("c1", _volume, "/data", readOnly: true);
        share.ShareRootfs("c2", _rootfs);

        share.Unshare("c1");

        share.Has("c1").Should().BeFalse();
        StateDirectory.MountPoints(share.MountsDirectory).Should().BeEquivalentTo([share.MountsDirectory, Path.Combine(share.MountsDirectory, "c2", "rootfs")]);
        Directory.EnumerateFileSystemEntries(share.MountsDirectory).Should().Equal(Path.Combine(share.MountsDirectory, "c2"));
        File.ReadAllText(Path.Combine(_rootfs, "marker")).Should().Be("rootfs\n");
        File.ReadAllText(Path.Combine(_volume, "data")).Should().Be("volume\n");
    }

    [Fact]
    public void Deleting_the_state_leaves_the_mount_table_exactly_as_before_and_the_users_directories_whole()
    {
        var share = SandboxShare.Create(_state);
        share.ShareRootfs("c1", _rootfs);
        share.ShareVolume("c1", _volume, "/data", readOnly: false);
        share.ShareVolume("c1", _volume, "/data-ro", readOnly: true);

        StateDirectory.Delete(_state);

        Directory.Exists(_state).Should().BeFalse();
        HostMountTable.ReadWithoutNetns(_temp.Path).Should().Be(_mountsBefore);
        File.ReadAllText(Path.Combine(_rootfs, "marker")).Should().Be("rootfs\n");
        File.ReadAllText(Path.Combine(_rootfs, "etc", "hostname")).Should().Be("inside\n");
        File.ReadAllText(Path.Combine(_volume, "data")).Should().Be("volume\n");
    }

    [Fact]
    public void Symlinks_a_guest_planted_in_the_rootfs_and_a_volume_are_never_followed_by_the_teardown()
    {
        var share = SandboxShare.Create(_state);
        share.ShareRootfs("c1", _rootfs);
        string volume = share.ShareVolume("c1", _volume, "/data", readOnly: false);
        // What root in the guest can do through the share: links to the host's directories, absolute and relative.
        string seenRootfs = Path.Combine(share.SharedDirectory, "c1", "rootfs");
        File.CreateSymbolicLink(Path.Combine(seenRootfs, "escape"), _victim);
        File.CreateSymbolicLink(Path.Combine(seenRootfs, "escape-relative"), Path.GetRelativePath(seenRootfs, _victim));
        File.CreateSymbolicLink(Path.Combine(share.SharedDirectory, Path.GetFileName(volume), "escape"), _victim);

        share.Unshare("c1");
        StateDirectory.Delete(_state);

        File.ReadAllText(Path.Combine(_victim, "precious")).Should().Be("keep me\n");
        new FileInfo(Path.Combine(_rootfs, "escape")).LinkTarget.Should().Be(_victim, "the user's rootfs keeps what the container wrote");
        File.ReadAllText(Path.Combine(_rootfs, "marker")).Should().Be("rootfs\n");
        HostMountTable.ReadWithoutNetns(_temp.Path).Should().Be(_mountsBefore);
    }

    [Fact]
    public void A_symlink_where_the_state_directory_was_is_deleted_as_a_link_only()
    {
        File.CreateSymbolicLink(_state, _victim);

        StateDirectory.Delete(_state);

        File.Exists(_state).Should().BeFalse();
        File.ReadAllText(Path.Combine(_victim, "precious")).Should().Be("keep me\n");
    }

    [Fact]
    public async Task A_crash_half_way_leaves_mounts_that_RemoveStaleAsync_takes_down_before_deleting_the_state()
    {
        // The owner died with the share made, a rootfs and volumes bound, and a staging bind still in private/.
        var share = SandboxShare.Create(_state);
        share.ShareRootfs("c1", _rootfs);
        share.ShareVolume("c1", _volume, "/data", readOnly: true);
        string staging = Path.Combine(share.PrivateDirectory, "half-way");
        Directory.CreateDirectory(staging);
        HostMounts.Bind(_volume, staging);
        File.WriteAllText(Path.Combine(_state, "qemu.pid"), "999999999\n");
        StateDirectory.MountPoints(_state).Should().HaveCount(8);

        await Sandbox.RemoveStaleAsync(_state);

        Directory.Exists(_state).Should().BeFalse();
        HostMountTable.ReadWithoutNetns(_temp.Path).Should().Be(_mountsBefore);
        File.ReadAllText(Path.Combine(_rootfs, "marker")).Should().Be("rootfs\n");
        File.ReadAllText(Path.Combine(_rootfs, "etc", "hostname")).Should().Be("inside\n");
        File.ReadAllText(Path.Combine(_volume, "data")).Should().Be("volume\n");
    }

    [Fact]
    public void DeleteStaleState_of_a_VM_whose_sandbox_crashed_unmounts_before_it_deletes()
    {
        var share = SandboxShare.Create(_state);
        share.ShareRootfs("c1", _rootfs);

        KataAgent.Host.Vm.QemuVm.DeleteStaleState(_state).Should().BeTrue();

        Directory.Exists(_state).Should().BeFalse();
        HostMountTable.ReadWithoutNetns(_temp.Path).Should().Be(_mountsBefore);
        File.ReadAllText(Path.Combine(_rootfs, "marker")).Should().Be("rootfs\n");
    }
}
