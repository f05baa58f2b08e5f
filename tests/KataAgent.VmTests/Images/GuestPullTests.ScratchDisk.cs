using FluentAssertions;
using KataAgent.Host.Images;
using Xunit;

namespace KataAgent.VmTests.Images;

/// <summary>
/// Guest pull onto a scratch block disk (<see cref="GuestPullStorage.ScratchDisk"/>): the host makes an empty ext4
/// file in the sandbox's state directory and hot-plugs it; the guest mounts it and puts the store and the rootfs on
/// it. The container's own mount table shows its root is that ext4 disk's <c>/rootfs/&lt;id&gt;</c>; the host file
/// is the only place on the host holding the image's bytes (as ext4 blocks: the token file's data, found by the
/// scan once the container has synced); removing the container unplugs the disk and deletes the file.
/// </summary>
public sealed partial class GuestPullTests
{
    [Fact]
    public async Task Guest_pull_onto_a_scratch_disk_puts_the_rootfs_on_that_disk_and_removing_the_container_deletes_its_file()
    {
        using var safety = new CancellationTokenSource(Limit);
        var scan = new HostImageScan(GuestPullImages.Token, fixture.LayeredBlobs, fixture.Registry.StorageDirectory);
        string disk = Path.Combine(fixture.Sandbox.Vm.StateDirectory, "disks", "scratch.ext4");
        var overrides = new ImageProcessOverrides
        {
            // The root's line of the container's mountinfo: the mount's root within its filesystem, the type, the
            // source. sync, so the guest's dirty pages reach the disk (and so the host file) before the scan.
            Entrypoint = ["/bin/sh", "-c", @"sed -n 's/^[0-9]* [0-9]* [0-9:]* \([^ ]*\) \/ .* - \([^ ]*\) \([^ ]*\) .*$/\1 \2 \3/p' /proc/self/mountinfo; cat /data/token.txt; sync"],
            Args = [],
        };
        var pull = Pull(overrides) with { Storage = GuestPullStorage.ScratchDisk, ScratchDiskBytes = 256L << 20 };

        var container = await fixture.Sandbox.CreateContainerFromGuestPullAsync("scratch", fixture.LayeredReference, pull, cancellationToken: safety.Token);
        List<string> findings;
        string stdout;
        try
        {
            File.Exists(disk).Should().BeTrue("the scratch disk is a file in the sandbox's state directory");
            (await fixture.Sandbox.Vm.QueryDisksAsync(safety.Token)).Should().Contain(d => d.ImagePath == disk, "it is plugged into the VM");
            stdout = await RunToEndAsync(container, safety.Token);
            findings = [.. await scan.FindAsync(safety.Token)];
        }
        finally
        {
            await fixture.Sandbox.RemoveContainerAsync("scratch", cancellationToken: safety.Token);
        }

        stdout.Should().MatchRegex($@"^/rootfs/scratch ext4 /dev/vd[a-z]+\n{GuestPullImages.Token}\n$",
            "the container's root is the directory rootfs/scratch of the ext4 scratch disk, not a tmpfs");
        findings.Should().Equal(["holds the token: " + disk], "the disk's file holds the rootfs's blocks, and nothing else on the host holds any of the image");
        File.Exists(disk).Should().BeFalse("the scratch disk's file goes with the container");
        (await fixture.Sandbox.Vm.QueryDisksAsync(safety.Token)).Should().NotContain(d => d.ImagePath == disk, "and is unplugged");
        (await scan.FindAsync(safety.Token)).Should().BeEmpty("nothing of the image is left on the host");
    }
}
