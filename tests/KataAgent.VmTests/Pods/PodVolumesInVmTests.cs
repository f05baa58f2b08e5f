using System.Buffers.Binary;
using FluentAssertions;
using KataAgent.Host.Pods;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Pods;

/// <summary>
/// A pod's disk volumes through the host library's <see cref="Pod"/> on qemu (TCG): a block volume handed to the VM
/// as a blank file is formatted and mounted by the guest, never by the host, and keeps its data when the pod is
/// deleted and created again (a new VM); a disk-backed emptyDir lives on the pod's scratch disk within its sizeLimit
/// and goes with the pod.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class PodVolumesInVmTests(ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_block_volume_is_formatted_by_the_guest_and_keeps_its_data_across_pods_and_a_disk_emptyDir_keeps_its_limit()
    {
        HostTools.RequireQemu();
        string rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        string disk = _temp.File("data.raw");
        await using (var blank = new FileStream(disk, FileMode.CreateNew))
        {
            blank.SetLength(64 * MiB);
        }
        string marker = $"kept-{Guid.NewGuid():N}";
        PodVolumeMount[] mounts = [new() { Name = "data", MountPath = "/data" }, new() { Name = "scratch", MountPath = "/scratch" }];
        PodSpec Spec(string name) => new()
        {
            Name = name,
            Containers = [PodGuestView.Sleeper("app", rootfs, mounts: mounts)],
            Volumes =
            [
                new() { Name = "data", Block = new BlockVolumeSource { Path = disk } },
                new() { Name = "scratch", EmptyDir = new() { SizeLimitBytes = 16 * MiB } },
            ],
        };

        string firstState = _temp.File("pod-1");
        await using (var first = await Pod.CreateAsync(Spec("vol-1"), new PodOptions { Vm = VmOptions.Image(firstState) }))
        {
            try
            {
                await first.StartAsync();
                // The guest mounted an ext4 it made on a virtio disk; the host holds no mount and no loop device of the file.
                string mount = await PodGuestView.ExecAsync(first["app"], "grep ' /data ' /proc/self/mountinfo");
                output.WriteLine(mount);
                mount.Should().Contain(" - ext4 /dev/vd");
                // (The host's own mounts below the pod's state are the rootfs binds it shares through virtio-fs.)
                LoopBackingFiles().Should().NotContain(disk, "a file is mounted through a loop device, and the host made none");
                File.ReadAllText("/proc/self/mountinfo").Should().NotContain(disk);
                await PodGuestView.ExecAsync(first["app"], $"echo {marker} > /data/marker && sync");

                // The scratch emptyDir: 15 MiB of 16 fit, 2 more end in ENOSPC.
                await PodGuestView.ExecAsync(first["app"], "dd if=/dev/zero of=/scratch/a bs=1M count=15 conv=fsync 2>/dev/null");
                string full = await PodGuestView.ExecAsync(first["app"], "dd if=/dev/zero of=/scratch/b bs=1M count=2 conv=fsync 2>&1 && echo fitted || true");
                full.Should().Contain("No space left").And.NotContain("fitted");
                File.Exists(Path.Combine(firstState, Pod.ScratchDiskFileName)).Should().BeTrue("the scratch disk is a file of the pod's state");
            }
            finally
            {
                await first.DeleteAsync(TimeSpan.FromSeconds(5));
            }
        }
        Directory.Exists(firstState).Should().BeFalse("the scratch disk went with the pod");
        Ext4Magic(disk).Should().Be(0xEF53, "the guest formatted the blank file as ext4");

        await using var second = await Pod.CreateAsync(Spec("vol-2"), new PodOptions { Vm = VmOptions.Image(_temp.File("pod-2")) });
        try
        {
            await second.StartAsync();
            (await PodGuestView.ExecAsync(second["app"], "cat /data/marker")).Should().Be(marker + "\n", "a formatted volume is mounted as it is, never formatted again");
            (await PodGuestView.ExecAsync(second["app"], "ls /scratch | wc -l")).Trim().Should().Be("0", "an emptyDir starts empty in every pod");
        }
        finally
        {
            await second.DeleteAsync(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>The ext4 superblock's magic: offset 1024 + 0x38.</summary>
    private static int Ext4Magic(string path)
    {
        using var file = File.OpenRead(path);
        var magic = new byte[2];
        file.Seek(1024 + 0x38, SeekOrigin.Begin);
        file.ReadExactly(magic);
        return BinaryPrimitives.ReadUInt16LittleEndian(magic);
    }

    private static IReadOnlyList<string> LoopBackingFiles() =>
        [.. Directory.EnumerateDirectories("/sys/block", "loop*")
            .Select(d => Path.Combine(d, "loop", "backing_file"))
            .Where(File.Exists)
            .Select(f => File.ReadAllText(f).Trim())];
}
