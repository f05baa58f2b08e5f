using CliWrap;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Csi;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Volumes;

/// <summary>
/// GetVolumeStats, ResizeVolume, UpdateEphemeralMounts and RemoveStaleVirtiofsShareMounts through the
/// published agent, on tmpfs and loop-device ext4 mounts this test makes below /run/kata-containers/.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class VolumeBinaryTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Volume_stats_are_the_filesystem_bytes_and_inodes_with_an_OK_condition()
    {
        await using var tmpfs = await Tmpfs.MountAsync("vol-stats", "size=8m,nr_inodes=1000");
        await File.WriteAllBytesAsync(Path.Combine(tmpfs.Path, "one-mib"), new byte[MiB]);
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        var stats = await client.GetVolumeStatisticsAsync(tmpfs.Path);

        stats.VolumeCondition.Abnormal.Should().BeFalse();
        stats.VolumeCondition.Message.Should().Be("OK");
        var bytes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes);
        bytes.Total.Should().Be((ulong)(8 * MiB));
        bytes.Used.Should().BeInRange((ulong)MiB, (ulong)(MiB + 64 * 1024));
        bytes.Available.Should().Be(bytes.Total - bytes.Used);
        var inodes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Inodes);
        inodes.Total.Should().Be(1000);
        inodes.Used.Should().Be(2, "the root directory and one file");
        inodes.Available.Should().Be(998);
    }

    [Fact]
    public async Task Bad_volume_paths_are_refused_naming_volume_guest_path()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await Refused(() => client.GetVolumeStatisticsAsync("/run/kata-containers/../../etc"), AgentStatusCode.InvalidArgument, "volume_guest_path: ", "not normalised");
        await Refused(() => client.GetVolumeStatisticsAsync("/etc"), AgentStatusCode.InvalidArgument, "volume_guest_path: ", "not below /run/kata-containers/");
        await Refused(() => client.GetVolumeStatisticsAsync("volume"), AgentStatusCode.InvalidArgument, "volume_guest_path: ", "not an absolute path");
        await Refused(() => client.GetVolumeStatisticsAsync($"/run/kata-containers/missing-{Guid.NewGuid():N}"), AgentStatusCode.NotFound, "volume_guest_path: ", "does not exist");
        await Refused(() => client.GrowVolumeAsync("/var/lib", 1 << 30), AgentStatusCode.InvalidArgument, "volume_guest_path: ", "not below");
    }

    /// <summary>
    /// The growth itself needs CAP_SYS_RESOURCE, which the build hosts withhold even from root; the agent as a
    /// guest's PID 1 has it, and the VM suite (Sandboxes/GuestResourcesInVmTests) grows a volume there.
    /// </summary>
    [Fact]
    public async Task A_mounted_ext4_volume_is_never_grown_past_its_disk_or_below_itself()
    {
        await using var volume = await LoopMount.CreateExt4Async(imageMiB: 64, filesystemMiB: 16, "vol-resize");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await Refused(() => client.GrowVolumeAsync(volume.MountPoint!, 128 * MiB), AgentStatusCode.FailedPrecondition, "size: ", "grow the disk first");
        await Refused(() => client.GrowVolumeAsync(volume.MountPoint!, 8 * MiB), AgentStatusCode.InvalidArgument, "size: ", "cannot shrink");
        await Refused(() => client.GrowVolumeAsync(volume.MountPoint!, 0), AgentStatusCode.InvalidArgument, "size: ", "is 0");
    }

    [Fact]
    public async Task Resizing_what_is_not_a_mounted_ext4_volume_is_failed_precondition()
    {
        await using var tmpfs = await Tmpfs.MountAsync("vol-notext4", "size=4m");
        string plain = $"/run/kata-containers/vol-plain-{Guid.NewGuid():N}";
        Directory.CreateDirectory(plain);
        try
        {
            await using var agent = AgentProcess.StartOnUnixSocket();
            await using var client = await agent.ConnectAsync();

            await Refused(() => client.GrowVolumeAsync(tmpfs.Path, 8 * MiB), AgentStatusCode.FailedPrecondition, "volume_guest_path: ", "holds tmpfs");
            await Refused(() => client.GrowVolumeAsync(plain, 8 * MiB), AgentStatusCode.FailedPrecondition, "volume_guest_path: ", "nothing is mounted");
        }
        finally
        {
            Directory.Delete(plain);
        }
    }

    [Fact]
    public async Task An_ephemeral_tmpfs_is_resized_by_a_remount_that_keeps_its_files_and_flags()
    {
        await using var tmpfs = await Tmpfs.MountAsync("ephemeral", "size=4m", "nosuid,nodev,noexec");
        await File.WriteAllBytesAsync(Path.Combine(tmpfs.Path, "data"), new byte[3 * MiB]);
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await client.ResizeEphemeralMountAsync(tmpfs.Path, (ulong)(16 * MiB));

        TotalBytes(await client.GetVolumeStatisticsAsync(tmpfs.Path)).Should().Be((ulong)(16 * MiB));
        new FileInfo(Path.Combine(tmpfs.Path, "data")).Length.Should().Be(3 * MiB, "a remount, not a new tmpfs on top");
        string options = MountOptionsOf(tmpfs.Path);
        options.Split(',').Should().Contain(["nosuid", "nodev", "noexec"]);
        File.ReadAllLines("/proc/self/mountinfo").Count(l => l.Split(' ')[4] == tmpfs.Path).Should().Be(1);

        // Kata's runtime also sends fsgid=, which the agent drops, and Kata's own words for the remount.
        var request = new UpdateEphemeralMountsRequest();
        request.Storages.Add(new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", MountPoint = tmpfs.Path, Options = { "remount", "size=8M", "fsgid=1000" } });
        await client.UpdateEphemeralMountsAsync(request);
        TotalBytes(await client.GetVolumeStatisticsAsync(tmpfs.Path)).Should().Be((ulong)(8 * MiB));

        await Refused(() => client.ResizeEphemeralMountAsync(tmpfs.Path, (ulong)MiB), AgentStatusCode.InvalidArgument, "storages[0].options: ", "below what the tmpfs holds");
        TotalBytes(await client.GetVolumeStatisticsAsync(tmpfs.Path)).Should().Be((ulong)(8 * MiB), "a refused remount changes nothing");
    }

    [Fact]
    public async Task Ephemeral_updates_that_do_not_fit_are_refused_naming_the_storage_before_any_remount()
    {
        await using var tmpfs = await Tmpfs.MountAsync("ephemeral-bad", "size=4m");
        string plain = $"/run/kata-containers/eph-plain-{Guid.NewGuid():N}";
        Directory.CreateDirectory(plain);
        try
        {
            await using var agent = AgentProcess.StartOnUnixSocket();
            await using var client = await agent.ConnectAsync();

            await RefusedUpdate(client, AgentStatusCode.InvalidArgument, "storages[1].driver: ",
                Ephemeral(tmpfs.Path, "size=8m"), new Storage { Driver = "blk", MountPoint = tmpfs.Path, Options = { "size=8m" } });
            await RefusedUpdate(client, AgentStatusCode.InvalidArgument, "storages[0].options: ", Ephemeral(tmpfs.Path, "bind"));
            await RefusedUpdate(client, AgentStatusCode.InvalidArgument, "storages[0].mount_point: ", Ephemeral("/tmp", "size=8m"));
            await RefusedUpdate(client, AgentStatusCode.InvalidArgument, "storages[0].fstype: ", new Storage { Driver = "ephemeral", Fstype = "ext4", MountPoint = tmpfs.Path });
            await RefusedUpdate(client, AgentStatusCode.FailedPrecondition, "storages[1].mount_point: ", Ephemeral(tmpfs.Path, "size=8m"), Ephemeral(plain, "size=8m"));
            TotalBytes(await client.GetVolumeStatisticsAsync(tmpfs.Path)).Should().Be((ulong)(4 * MiB), "every storage is checked before the first remount");
        }
        finally
        {
            Directory.Delete(plain);
        }
    }

    [Fact]
    public async Task Stale_share_mount_cleanup_revalidates_and_leaves_live_mounts_alone()
    {
        string share = $"/run/kata-containers/shared/containers/stale-test-{Guid.NewGuid():N}";
        await using var live = await Tmpfs.MountAsync(share, "size=1m", absolute: true);
        await File.WriteAllTextAsync(Path.Combine(live.Path, "f"), "x");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        await client.RemoveStaleShareMountsAsync();

        File.ReadAllText(Path.Combine(live.Path, "f")).Should().Be("x");
        File.ReadAllText("/proc/self/mountinfo").Should().Contain($" {share} ");
        (await agent.WaitForOutputAsync("share mount(s) below /run/kata-containers/shared/containers/"))
            .Should().Contain("share mount(s) below /run/kata-containers/shared/containers/");
    }

    private static Storage Ephemeral(string mountPoint, params string[] options)
    {
        var storage = new Storage { Driver = "ephemeral", Source = "tmpfs", Fstype = "tmpfs", MountPoint = mountPoint };
        storage.Options.Add("remount");
        storage.Options.AddRange(options);
        return storage;
    }

    private static async Task RefusedUpdate(AgentClient client, AgentStatusCode code, string field, params Storage[] storages)
    {
        var request = new UpdateEphemeralMountsRequest();
        request.Storages.AddRange(storages);
        await Refused(() => client.UpdateEphemeralMountsAsync(request), code, field, field);
    }

    private static ulong TotalBytes(VolumeStatsResponse stats) => stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes).Total;

    private static string MountOptionsOf(string mountPoint) =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Last(f => f[4] == mountPoint)[5];

    private static async Task Refused(Func<Task> call, AgentStatusCode code, string field, string problem)
    {
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(code, error.Detail);
        error.Detail.Should().StartWith(field).And.Contain(problem);
    }

    /// <summary>A tmpfs on a fresh directory below /run/kata-containers/, unmounted and removed on dispose.</summary>
    private sealed class Tmpfs : IAsyncDisposable
    {
        private Tmpfs(string path) => Path = path;

        public string Path { get; }

        public static async Task<Tmpfs> MountAsync(string name, string data, string flags = "", bool absolute = false)
        {
            string path = absolute ? name : $"/run/kata-containers/{name}-{Guid.NewGuid():N}";
            Directory.CreateDirectory(path);
            string options = flags.Length > 0 ? $"{data},{flags}" : data;
            await Cli.Wrap("mount").WithArguments(["-t", "tmpfs", "-o", options, "tmpfs", path]).ExecuteAsync();
            return new Tmpfs(path);
        }

        public async ValueTask DisposeAsync()
        {
            await Cli.Wrap("umount").WithArguments([Path]).WithValidation(CommandResultValidation.None).ExecuteAsync();
            try
            {
                Directory.Delete(Path);
            }
            catch (IOException)
            {
            }
        }
    }
}
