using FluentAssertions;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Containerd.Types;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Tasks;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;
using static KataAgent.Linux.Interop.Libc;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>The snapshotter's mounts on &lt;bundle&gt;/rootfs, and the <c>delete</c> action taking them off (root: real mounts).</summary>
[Collection(HostMountTableCollection.Name)]
public sealed class RootfsMounterTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        RootfsMounter.UnmountAll(Path.Combine(_temp.Path, "bundle", "rootfs"));
        _temp.Dispose();
    }

    [Fact]
    public void Options_become_flags_and_the_rest_the_data_string_as_mount_8_makes_them()
    {
        RootfsMounter.ParseOptions(["rbind", "ro"]).Should().Be((MS_BIND | MS_REC | MS_RDONLY, ""));
        RootfsMounter.ParseOptions(["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/a:/b", "nodev"])
            .Should().Be((MS_NODEV, "index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b"));
        RootfsMounter.ParseOptions(["ro", "rw"]).Flags.Should().Be(0UL, "the last word wins");
    }

    [Fact]
    public async Task A_bind_rootfs_is_mounted_read_only_when_asked_and_the_delete_action_takes_it_off()
    {
        string snapshot = _temp.CreateDirectory("snapshot");
        File.WriteAllText(Path.Combine(snapshot, "marker"), "from the snapshot");
        string bundle = _temp.CreateDirectory("bundle");
        string rootfs = Path.Combine(bundle, "rootfs");

        RootfsMounter.MountAll([new Mount { Type = "bind", Source = snapshot, Options = { "rbind", "ro" } }], rootfs);

        File.ReadAllText(Path.Combine(rootfs, "marker")).Should().Be("from the snapshot");
        var write = () => File.WriteAllText(Path.Combine(rootfs, "new"), "x");
        write.Should().Throw<IOException>("the mount is read-only");

        BundleState.Write(bundle, new BundleState { RootfsMounted = true });
        DeleteResponse response = await TaskService.CleanupAsync(new ShimArguments { Namespace = "t", Id = "c1", Bundle = bundle, Action = "delete" }, CancellationToken.None);

        response.ExitStatus.Should().Be(137u);
        response.ExitedAt.ToDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        File.Exists(Path.Combine(rootfs, "marker")).Should().BeFalse("the rootfs is unmounted");
        File.Exists(Path.Combine(bundle, BundleState.FileName)).Should().BeFalse();
        File.Exists(Path.Combine(snapshot, "marker")).Should().BeTrue();
    }

    [Fact]
    public async Task The_delete_action_with_nothing_left_to_clean_still_answers()
    {
        string bundle = _temp.CreateDirectory("bundle");

        var response = await TaskService.CleanupAsync(new ShimArguments { Namespace = "t", Id = "c1", Bundle = bundle }, CancellationToken.None);

        response.ExitStatus.Should().Be(137u);
    }

    [Fact]
    public void A_failed_mount_names_the_mount_and_leaves_nothing_mounted()
    {
        string snapshot = _temp.CreateDirectory("snapshot");
        string bundle = _temp.CreateDirectory("bundle");
        string rootfs = Path.Combine(bundle, "rootfs");

        var mount = () => RootfsMounter.MountAll(
            [new Mount { Type = "bind", Source = snapshot, Options = { "rbind" } }, new Mount { Type = "nosuchfs", Source = "none" }], rootfs);

        mount.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.StartsWith("rootfs[1]: mount nosuchfs", StringComparison.Ordinal));
        File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(l => l.Contains(rootfs));
    }
}
