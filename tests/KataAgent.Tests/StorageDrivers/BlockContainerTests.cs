using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Containers;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.StorageDrivers;

/// <summary>
/// CreateContainer with its rootfs on a blk storage, through out/kata-agent stand-alone: the disk is
/// a loop device holding a busybox rootfs, found through a fake sysfs (KATA_AGENT_SYSFS_ROOT) at
/// PCI path 10/00, as a hot-plugged virtio-blk disk behind a root port would be in the guest.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class BlockContainerTests
{
    [Fact]
    public async Task A_container_runs_from_a_blk_rootfs_which_is_unmounted_when_it_is_removed()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await using var disk = await LoopDisk.CreateAsync(new Dictionary<string, string> { ["marker"] = "on the disk\n" }, copyTree: rootfs.Path);
        using var sysfs = new FakeSysfs();
        string port = sysfs.AddBridge(sysfs.RootBus, "0000:00", 0x10, secondaryBus: 1);
        sysfs.AddVirtioBlock(port, "0000:01", 0, disk.Name, disk.Major, disk.Minor);
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();
        string id = $"blk{Environment.ProcessId}";
        string mountPoint = $"/run/kata-containers/{id}/rootfs";

        var request = new CreateContainerRequest { ContainerId = id, OCI = ContainerSpecs.Default(mountPoint, ["sh", "-c", "cat /marker; grep ' / ' /proc/self/mounts | cut -d' ' -f3"]) };
        request.Storages.Add(new Storage { Driver = "blk", Source = "10/00", MountPoint = mountPoint, Options = { "noatime" } });
        await client.CreateContainerAsync(request);
        File.ReadAllText("/proc/self/mounts").Should().Contain($"{disk.DevicePath} {mountPoint} ext4 rw,noatime");
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id })).Status.Should().Be(0);
        string output = await ContainerLifecycleTests.ReadAllAsync(client, id, "", stderr: false);
        await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });

        output.Should().Be("on the disk\next4\n");
        File.ReadAllText("/proc/self/mounts").Should().NotContain(mountPoint);
        Directory.Exists(mountPoint).Should().BeFalse();
        (await agent.WaitForOutputAsync($"mounted {disk.DevicePath}")).Should().Contain($"mounted {disk.DevicePath} (PCI path 10/00, ext4) on {mountPoint}");
        Directory.Delete($"/run/kata-containers/{id}");
    }

    [Fact]
    public async Task A_failed_create_releases_its_storages_and_bad_ones_name_the_field()
    {
        await using var disk = await LoopDisk.CreateAsync(new Dictionary<string, string>());
        using var sysfs = new FakeSysfs();
        sysfs.AddVirtioBlock(sysfs.RootBus, "0000:00", 0x06, disk.Name, disk.Major, disk.Minor);
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();
        string id = $"blkfail{Environment.ProcessId}";
        string mountPoint = $"/run/kata-containers/{id}/rootfs";

        // The disk mounts, but the rootfs is not on it: the create fails and the mount goes again.
        var request = new CreateContainerRequest { ContainerId = id, OCI = ContainerSpecs.Default(mountPoint + "/not-there", ["true"]) };
        request.Storages.Add(new Storage { Driver = "blk", Source = "06", MountPoint = mountPoint });
        var create = async () => await client.CreateContainerAsync(request);
        (await create.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().StartWith("OCI.Root.Path: ");
        (await agent.WaitForOutputAsync($"mounted {disk.DevicePath}")).Should().Contain($"mounted {disk.DevicePath}");
        File.ReadAllText("/proc/self/mounts").Should().NotContain(mountPoint);

        request.Storages[0].Source = "6";
        (await create.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().StartWith("storages[0].source: '6' is not a PCI path");
        request.Storages[0].Source = "07";
        var missing = (await create.Should().ThrowAsync<AgentStatusException>()).Which;
        missing.StatusCode.Should().Be(AgentStatusCode.DeadlineExceeded);
        missing.Detail.Should().StartWith("storages[0].source: no block device appeared for PCI path 07 within 3 s");

        (await client.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.StorageHandlers.Should().Contain("blk");
        if (Directory.Exists($"/run/kata-containers/{id}"))
        {
            Directory.Delete($"/run/kata-containers/{id}", recursive: true);
        }
    }
}
