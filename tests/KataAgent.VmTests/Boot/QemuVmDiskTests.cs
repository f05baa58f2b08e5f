using System.Text.Json;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// Disks on a real qemu (TCG): cold-plugged ones on their own pcie-root-ports at the PCI paths the VM
/// reports, hot-plugged ones through QMP into the free ports, seen by qemu where the paths say; removed ones
/// (the guest releases them) gone from qemu, their ports free for the next hot-plug.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuVmDiskTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Cold_and_hot_plugged_disks_sit_behind_the_root_ports_their_PCI_paths_name_and_removed_ones_free_their_port()
    {
        HostTools.RequireQemu();
        string[] disks = [Disk("cold0.img"), Disk("cold1.img"), Disk("hot0.img"), Disk("hot1.img"), Disk("hot2.img")];
        string state = _temp.File("vm");

        await using (var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, state)) with
        {
            Disks = [new QemuDisk(disks[0]), new QemuDisk(disks[1], ReadOnly: true)],
            HotplugSlots = 2,
        }))
        {
            output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s");
            vm.DiskPciPaths.Should().Equal("10/00", "11/00");

            string first = await vm.AddDiskAsync(new QemuDisk(disks[2]));
            string second = await vm.AddDiskAsync(new QemuDisk(disks[3], ReadOnly: true));
            var third = async () => await vm.AddDiskAsync(new QemuDisk(disks[4]));

            first.Should().Be("12/00");
            second.Should().Be("13/00");
            (await third.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("HotplugSlots");

            var placement = DisksByRootPortSlot(await vm.Qmp.ExecuteAsync("query-pci"));
            output.WriteLine(string.Join(", ", placement.Select(p => $"{p.Key:x2}: {p.Value}")));
            placement.Should().Equal(new Dictionary<int, string> { [0x10] = "disk0", [0x11] = "disk1", [0x12] = "disk2", [0x13] = "disk3" });

            var block = (await vm.Qmp.ExecuteAsync("query-block")).EnumerateArray()
                .Where(b => b.TryGetProperty("inserted", out _))
                .ToDictionary(b => b.GetProperty("qdev").GetString()!, b => b.GetProperty("inserted"));
            block.Keys.Should().Contain(["/machine/peripheral/disk0/virtio-backend", "/machine/peripheral/disk3/virtio-backend"]);
            block["/machine/peripheral/disk1/virtio-backend"].GetProperty("ro").GetBoolean().Should().BeTrue();
            block["/machine/peripheral/disk2/virtio-backend"].GetProperty("ro").GetBoolean().Should().BeFalse();
            block["/machine/peripheral/disk2/virtio-backend"].GetProperty("file").GetString().Should().Be(disks[2]);

            (await vm.QueryDisksAsync()).Should().Equal(
                new QemuAttachedDisk("10/00", disks[0], false), new QemuAttachedDisk("11/00", disks[1], true),
                new QemuAttachedDisk("12/00", disks[2], false), new QemuAttachedDisk("13/00", disks[3], true));

            await vm.RemoveDiskAsync(first);
            await vm.RemoveDiskAsync("10/00");

            QmpReplies.ImagesInQueryBlock(await vm.Qmp.ExecuteAsync("query-block")).Should().BeEquivalentTo([disks[1], disks[3]], "device_del and blockdev-del took the images out");
            DisksByRootPortSlot(await vm.Qmp.ExecuteAsync("query-pci")).Should().Equal(new Dictionary<int, string> { [0x11] = "disk1", [0x13] = "disk3" });
            var removedAgain = async () => await vm.RemoveDiskAsync(first);
            (await removedAgain.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("no disk at PCI path 12/00");
            var notOurs = async () => await vm.RemoveDiskAsync("14/00");
            (await notOurs.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("pciPath");
            (await vm.AddDiskAsync(new QemuDisk(disks[4]))).Should().Be("12/00", "the removed disk's root port is free again");
            (await vm.QueryDisksAsync()).Select(d => d.ImagePath).Should().Equal(disks[1], disks[4], disks[3]);

            var missing = async () => await vm.AddDiskAsync(new QemuDisk(_temp.File("absent.img")));
            await missing.Should().ThrowAsync<FileNotFoundException>();
            (await vm.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue("the guest runs on through the hot-plugs");
            File.Exists(vm.AgentLogPath).Should().BeTrue("qemu backs the agent.log.0 port with this file");
        }

        Directory.Exists(state).Should().BeFalse();
    }

    private string Disk(string name)
    {
        string path = _temp.File(name);
        using (var file = File.Create(path))
        {
            file.SetLength(8 * 1024 * 1024);
        }
        return path;
    }

    /// <summary>Root-bus slot of each pcie-root-port → qdev id of the device behind it.</summary>
    private static Dictionary<int, string> DisksByRootPortSlot(JsonElement buses)
    {
        var result = new Dictionary<int, string>();
        foreach (var device in buses.EnumerateArray().Single(b => b.GetProperty("bus").GetInt32() == 0).GetProperty("devices").EnumerateArray())
        {
            if (device.TryGetProperty("pci_bridge", out var bridge) && bridge.TryGetProperty("devices", out var behind))
            {
                foreach (var disk in behind.EnumerateArray())
                {
                    disk.GetProperty("slot").GetInt32().Should().Be(0, "a disk sits in slot 0 behind its root port");
                    result[device.GetProperty("slot").GetInt32()] = disk.GetProperty("qdev_id").GetString()!;
                }
            }
        }
        return result;
    }
}
