using FluentAssertions;
using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Server;
using KataAgent.Agent.Storage;
using KataAgent.Agent.Devices;
using KataAgent.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using ProtoStorage = KataAgent.Protocols.Agent.Storage;
using KataAgent.Linux.Interop;

namespace KataAgent.Tests.StorageDrivers;

/// <summary>
/// The blk storage driver against a fake sysfs (PCI topology, hot-plug timing, rescan) and, for the
/// mount itself, a loop device standing in for the virtio-blk disk.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class BlockStorageTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_disk_behind_a_root_port_is_found_through_the_bridge_secondary_bus()
    {
        using var sysfs = new FakeSysfs();
        // Bus numbers are the firmware's choice; the PCI path does not depend on them.
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x10, secondaryBus: 0x03);
        sysfs.AddVirtioBlock(port, "0000:03", 0, "vdb", 254, 16);
        using var dev = new TempDirectory();
        File.WriteAllBytes(dev.File("vdb"), []);

        var locator = new BlockDeviceLocator(new PciSysfs(sysfs.Root), dev.Path, NullLogger.Instance);
        var found = locator.TryFind(PciPath.Parse("10/00"), out _);

        found.Should().Be(new BlockDevice("vdb", 254, 16, dev.File("vdb")));
        locator.TryFind(PciPath.Parse("11/00"), out string missing).Should().BeNull();
        missing.Should().EndWith("0000:00:11.0");
    }

    [Fact]
    public void A_disk_on_the_root_bus_has_a_one_slot_path_and_two_levels_of_bridges_work()
    {
        using var sysfs = new FakeSysfs();
        sysfs.AddVirtioBlock(sysfs.RootBus, "0000:00", 0x05, "vda", 254, 0);
        string outer = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x02, secondaryBus: 1);
        string inner = sysfs.AddBridge(outer, "0000:01", 0x01, secondaryBus: 2);
        sysfs.AddVirtioBlock(inner, "0000:02", 0x1f, "vdc", 254, 32);
        var locator = new BlockDeviceLocator(new PciSysfs(sysfs.Root), "/nonexistent-dev", NullLogger.Instance);

        locator.TryFind(PciPath.Parse("05"), out _)!.Name.Should().Be("vda");
        locator.TryFind(PciPath.Parse("02/01/1f"), out _)!.Name.Should().Be("vdc");
        locator.TryFind(PciPath.Parse("05/00"), out string missing).Should().BeNull("slot 5 is a disk, not a bridge");
        missing.Should().Contain("pci_bus").And.Contain("found 0");
    }

    [Fact]
    public async Task The_wait_ends_when_the_hot_plugged_disk_shows_up_and_a_missing_node_is_made_from_sysfs()
    {
        using var sysfs = new FakeSysfs();
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x11, secondaryBus: 2);
        using var dev = new TempDirectory();
        var locator = new BlockDeviceLocator(new PciSysfs(sysfs.Root), dev.Path, NullLogger.Instance);

        var wait = locator.WaitAsync(PciPath.Parse("11/00"), Generous, CancellationToken.None);
        await Task.Delay(100);
        wait.IsCompleted.Should().BeFalse("the disk is not there yet");
        sysfs.AddVirtioBlock(port, "0000:02", 0, "vdd", 254, 48);
        var device = await wait.WaitAsync(Generous);

        device.DevicePath.Should().Be(dev.File("vdd"));
        Libc.FileType(device.DevicePath).Should().Be(Libc.S_IFBLK, "no devtmpfs here: the node is made from sysfs' major:minor");
        sysfs.RescanRequest.Should().BeNull("the device came before half the timeout");
    }

    [Fact]
    public async Task A_disk_whose_node_does_not_open_yet_is_waited_for_until_it_opens_or_the_deadline()
    {
        // A node whose major no driver has registered opens with ENXIO, as a hot-plugged disk does between its sysfs
        // entry and its registration. Once the node names a registered device (loop0 here), the wait ends.
        int unregistered = Enumerable.Range(240, 15).First(major => !RegisteredBlockMajors().Contains(major));
        using var dev = new TempDirectory();
        string node = dev.File("vdz");
        Libc.Mknod(node, (uint)Libc.S_IFBLK | 0x180, Libc.MakeDev(unregistered, 0)).Should().Be(0);
        var locator = new BlockDeviceLocator(new PciSysfs("/nonexistent-sysfs"), dev.Path, NullLogger.Instance);
        var notYet = new BlockDevice("vdz", unregistered, 0, node);

        var late = async () => await locator.WaitUntilOpensAsync(notYet, TimeSpan.FromMilliseconds(300), CancellationToken.None);
        (await late.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain(node).And.Contain("ENXIO");

        var wait = locator.WaitUntilOpensAsync(notYet, Generous, CancellationToken.None);
        await Task.Delay(100);
        wait.IsCompleted.Should().BeFalse("the node still does not open");
        File.Delete(node);
        Libc.Mknod(node, (uint)Libc.S_IFBLK | 0x180, Libc.MakeDev(7, 0)).Should().Be(0);
        await wait.WaitAsync(Generous);
    }

    private static HashSet<int> RegisteredBlockMajors() =>
        File.ReadLines("/proc/devices").SkipWhile(line => line != "Block devices:").Skip(1)
            .Select(line => line.Trim().Split(' ')[0]).Where(word => word.Length > 0).Select(int.Parse).ToHashSet();

    [Fact]
    public async Task Half_way_through_the_wait_the_pci_buses_are_rescanned_which_finds_a_missed_device()
    {
        using var sysfs = new FakeSysfs();
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x12, secondaryBus: 4);
        var locator = new BlockDeviceLocator(new PciSysfs(sysfs.Root), "/dev", NullLogger.Instance);

        // Plays the kernel: the device appears only when someone asks for a rescan.
        using var stop = new CancellationTokenSource();
        var kernel = Task.Run(async () =>
        {
            while (sysfs.RescanRequest is null)
            {
                await Task.Delay(20, stop.Token);
            }
            sysfs.AddVirtioBlock(port, "0000:04", 0, "loop0", 7, 0);
        });
        var device = await locator.WaitAsync(PciPath.Parse("12/00"), TimeSpan.FromSeconds(2), CancellationToken.None);
        await kernel;

        sysfs.RescanRequest.Should().Be("1");
        device.Name.Should().Be("loop0");
    }

    [Fact]
    public async Task A_disk_that_never_appears_is_deadline_exceeded_naming_the_field_pci_path_and_timeout()
    {
        using var sysfs = new FakeSysfs();
        var storage = new StorageManager(new PciSysfs(sysfs.Root), "/dev", TimeSpan.FromMilliseconds(300), NullLogger.Instance);
        var request = new[] { Blk("1a/00", "/run/kata-containers/never/rootfs") };

        var mount = async () => await storage.MountAsync(request, "storages", CancellationToken.None);

        var error = (await mount.Should().ThrowAsync<AgentException>()).Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.DeadlineExceeded);
        error.Message.Should().StartWith("storages[0].source: ").And.Contain("PCI path 1a/00").And.Contain("300 ms");
        storage.MountPoints.Should().BeEmpty();
    }

    [Theory]
    [InlineData("blk", "1G/00", "", "/run/kata-containers/c/rootfs", "storages[0].source")]
    [InlineData("blk", "", "", "/run/kata-containers/c/rootfs", "storages[0].source")]
    [InlineData("blk", "0000:00:02.0", "", "/run/kata-containers/c/rootfs", "storages[0].source")]
    [InlineData("blk", "02", "EXT4;rm", "/run/kata-containers/c/rootfs", "storages[0].fstype")]
    [InlineData("blk", "02", "", "/etc", "storages[0].mount_point")]
    [InlineData("blk", "02", "", "/run/kata-containers/../../etc", "storages[0].mount_point")]
    [InlineData("blk", "02", "", "/run/kata-containers/", "storages[0].mount_point")]
    [InlineData("blk", "02", "", "run/kata-containers/c", "storages[0].mount_point")]
    [InlineData("virtio-blk", "02", "", "/run/kata-containers/c/rootfs", "storages[0].driver")]
    public void Bad_blk_storages_are_invalid_argument_naming_the_field(string driver, string source, string fstype, string mountPoint, string field)
    {
        var validate = () => StorageManager.Validate([new ProtoStorage { Driver = driver, Source = source, Fstype = fstype, MountPoint = mountPoint }], "storages");
        var error = validate.Should().Throw<AgentException>().Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.InvalidArgument);
        error.Message.Should().StartWith(field + ": ");
    }

    [Fact]
    public void Bind_and_propagation_options_make_no_sense_for_a_disk()
    {
        var storage = Blk("02", "/run/kata-containers/c/rootfs");
        storage.Options.Add("rbind");
        var validate = () => StorageManager.Validate([new ProtoStorage { Driver = "ephemeral", MountPoint = "/run/kata-containers/x" }, storage], "storages");
        validate.Should().Throw<AgentException>().Which.Message.Should().StartWith("storages[1].options: ");
    }

    [Fact]
    public async Task The_disk_is_mounted_with_its_options_shared_by_users_and_unmounted_by_the_last()
    {
        await using var disk = await LoopDisk.CreateAsync(new Dictionary<string, string> { ["hello.txt"] = "from the disk\n" });
        using var sysfs = new FakeSysfs();
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x10, secondaryBus: 1);
        sysfs.AddVirtioBlock(port, "0000:01", 0, disk.Name, disk.Major, disk.Minor);
        var storage = new StorageManager(new PciSysfs(sysfs.Root), "/dev", Generous, NullLogger.Instance);
        string mountPoint = $"/run/kata-containers/blk-test-{Guid.NewGuid():N}/rootfs";
        var request = Blk("10/00", mountPoint);
        request.Options.Add("ro");
        request.Options.Add("noatime");

        var first = await storage.MountAsync([request], "storages", CancellationToken.None);
        var second = await storage.MountAsync([request], "storages", CancellationToken.None);

        File.ReadAllText(Path.Combine(mountPoint, "hello.txt")).Should().Be("from the disk\n");
        string mount = MountLine(mountPoint)!;
        mount.Should().StartWith($"{disk.DevicePath} {mountPoint} ext4 ro,");
        mount.Should().Contain("noatime");
        storage.Release(first);
        MountLine(mountPoint).Should().NotBeNull("the second user still has it");
        storage.Release(second);
        MountLine(mountPoint).Should().BeNull();
        Directory.Exists(mountPoint).Should().BeFalse("the agent made the mount point and removes it");
        Directory.Delete(Path.GetDirectoryName(mountPoint)!);
    }

    [Fact]
    public async Task A_busy_mount_is_detached_and_a_wrong_filesystem_type_names_the_storage()
    {
        await using var disk = await LoopDisk.CreateAsync(new Dictionary<string, string> { ["busy.txt"] = "x" });
        using var sysfs = new FakeSysfs();
        sysfs.AddVirtioBlock(sysfs.RootBus, "0000:00", 0x07, disk.Name, disk.Major, disk.Minor);
        var storage = new StorageManager(new PciSysfs(sysfs.Root), "/dev", Generous, NullLogger.Instance);
        string mountPoint = $"/run/kata-containers/blk-test-{Guid.NewGuid():N}";

        var wrongType = Blk("07", mountPoint);
        wrongType.Fstype = "xfs-not-here";
        var wrong = async () => await storage.MountAsync([wrongType], "storages", CancellationToken.None);
        var error = (await wrong.Should().ThrowAsync<AgentException>()).Which;
        AgentErrorMapping.CodeFor(error.Kind).Should().Be(StatusCode.InvalidArgument);
        error.Message.Should().StartWith("storages[0].fstype: 'xfs-not-here'");
        MountLine(mountPoint).Should().BeNull();

        var mounted = await storage.MountAsync([Blk("07", mountPoint)], "storages", CancellationToken.None);
        using (File.OpenRead(Path.Combine(mountPoint, "busy.txt")))
        {
            storage.Release(mounted);
            MountLine(mountPoint).Should().BeNull("a busy mount is detached, not left behind");
        }
        if (Directory.Exists(mountPoint))
        {
            Directory.Delete(mountPoint);
        }
    }

    [Fact]
    public async Task A_shared_storage_outlives_its_containers_until_the_sandbox_goes()
    {
        await using var disk = await LoopDisk.CreateAsync(new Dictionary<string, string>());
        using var sysfs = new FakeSysfs();
        sysfs.AddVirtioBlock(sysfs.RootBus, "0000:00", 0x08, disk.Name, disk.Major, disk.Minor);
        var storage = new StorageManager(new PciSysfs(sysfs.Root), "/dev", Generous, NullLogger.Instance);
        string mountPoint = $"/run/kata-containers/blk-test-{Guid.NewGuid():N}";
        var shared = Blk("08", mountPoint);
        shared.Shared = true;

        storage.Release(await storage.MountAsync([shared], "storages", CancellationToken.None));
        MountLine(mountPoint).Should().NotBeNull();
        storage.UnmountAll();
        MountLine(mountPoint).Should().BeNull();
        storage.MountPoints.Should().BeEmpty();
        Directory.Exists(mountPoint).Should().BeFalse("the agent made the mount point and removes it");
    }

    private static ProtoStorage Blk(string pciPath, string mountPoint) =>
        new() { Driver = "blk", Source = pciPath, MountPoint = mountPoint };

    /// <summary>The /proc/self/mounts line of <paramref name="mountPoint"/>, or null.</summary>
    private static string? MountLine(string mountPoint) =>
        File.ReadAllLines("/proc/self/mounts").LastOrDefault(l => l.Split(' ')[1] == mountPoint);
}
