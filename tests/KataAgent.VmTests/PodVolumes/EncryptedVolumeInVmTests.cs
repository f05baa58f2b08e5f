using System.Text;
using CliWrap;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.PodVolumes;

/// <summary>
/// Encrypted block volumes on a real qemu (TCG), set up by the guest through kataagent.v1.Pods: the host gives raw
/// disk files and a key; containers write a marker through the volume; the host's file never holds it. One VM for
/// the whole story, pods created and deleted in turn: a provided key reopens the volume with its data (the disk is not
/// formatted again), a wrong key is refused and changes nothing, and an ephemeral key's volume is ciphertext too.
/// Then, with no mapping left behind, a disk emptyDir on a scratch disk keeps to its size limit.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class EncryptedVolumeInVmTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const string RootfsMount = "/run/kata-containers/shared/containers/{0}/rootfs";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_guest_encrypts_block_volumes_and_the_host_file_holds_only_ciphertext()
    {
        HostTools.RequireQemu();
        // Busybox's rootfs as an ext4 disk: the containers' root, mounted by the blk storage driver.
        string rootfsImage = _temp.File("rootfs.img");
        await Cli.Wrap("mkfs.ext4").WithArguments(["-q", "-F", "-d", Path.Combine(RepoPaths.Root, "out", "rootfs"), rootfsImage, "64M"]).ExecuteAsync();
        string provided = Blank("provided.raw", 64 * MiB);
        string ephemeral = Blank("ephemeral.raw", 64 * MiB);
        string scratch = Blank("scratch.raw", 128 * MiB);
        // Random text, written many times over: if any plaintext reached the disk, this would be in it.
        string marker = $"KATAAGENT-PLAINTEXT-{Guid.NewGuid():N}";
        byte[] key = Enumerable.Range(0, 64).Select(i => (byte)(i * 7 + 3)).ToArray();
        byte[] wrongKey = key.Select(b => (byte)(b ^ 0x55)).ToArray();

        await using var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, _temp.File("vm"))) with
        {
            MemoryMiB = 512,
            Disks = [new QemuDisk(rootfsImage), new QemuDisk(provided), new QemuDisk(ephemeral), new QemuDisk(scratch)],
        });
        output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s");
        var pods = new KataAgent.Protocols.Extensions.Pods.PodsClient(vm.Agent.CallInvoker);
        string rootfsPci = vm.DiskPciPaths[0];

        // First use with a provided key: the guest writes its header and key check, maps, formats, mounts.
        string write = $"i=0; while [ $i -lt 2000 ]; do echo {marker}; i=$((i+1)); done > /vol/marker && sync && grep -c {marker} /vol/marker";
        (await RunPodAsync(pods, vm, "enc-1", rootfsPci, Block(vm.DiskPciPaths[1], Provided(key)), write)).Should().Be(0);
        string host = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(provided));
        host.Should().NotContain(marker, "the host sees the volume's ciphertext only");
        host.Should().StartWith("KATAAGENT-CRYPT1", "a provided-key volume carries its (secret-free) header");
        host.Should().NotContain("lost+found", "not even the filesystem's own names are in plaintext");

        // The pod again with the same key: the data is there, the disk was not formatted again.
        string read = $"[ \"$(grep -c {marker} /vol/marker)\" = 2000 ]";
        (await RunPodAsync(pods, vm, "enc-2", rootfsPci, Block(vm.DiskPciPaths[1], Provided(key)), read)).Should().Be(0);

        // A wrong key opens nothing: refused naming the key, and the volume is unchanged for the right one.
        var wrong = async () => await pods.CreatePodAsync(Request("enc-3", rootfsPci, Block(vm.DiskPciPaths[1], Provided(wrongKey)), read));
        var refusal = (await wrong.Should().ThrowAsync<RpcException>()).Which;
        refusal.StatusCode.Should().Be(StatusCode.PermissionDenied);
        refusal.Status.Detail.Should().Contain("volumes[0].block.encryption.provided");
        (await RunPodAsync(pods, vm, "enc-4", rootfsPci, Block(vm.DiskPciPaths[1], Provided(key)), read)).Should().Be(0, "the wrong key left the volume as it was");

        // An ephemeral key, made in the guest: its volume is ciphertext on the host too.
        (await RunPodAsync(pods, vm, "enc-5", rootfsPci, Block(vm.DiskPciPaths[2], new VolumeEncryption { Ephemeral = new EphemeralKey() }), write)).Should().Be(0);
        Encoding.Latin1.GetString(await File.ReadAllBytesAsync(ephemeral)).Should().NotContain(marker);

        // The deleted pods left no dm-crypt mapping in the guest; a disk emptyDir (on demand: the loop module) holds its
        // size limit: 15 MiB of 16 fit, 2 more end in ENOSPC (dd's message goes to the rootfs: the volume is full); its
        // image is the one loop device bound.
        var emptyDir = new PodVolume { Name = "secret", EmptyDir = new EmptyDirVolume { SizeLimitBytes = (ulong)(16 * MiB), ScratchPciPath = vm.DiskPciPaths[3] } };
        string limits = "[ \"$(ls /sys/block | grep -c '^dm-')\" = 0 ] || exit 10; "
            + "dd if=/dev/zero of=/vol/a bs=1M count=15 conv=fsync || exit 11; "
            + "dd if=/dev/zero of=/vol/b bs=1M count=2 conv=fsync 2>/tmp/err && exit 12; grep -q 'No space left' /tmp/err || exit 13; "
            + "[ \"$(cat /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l)\" = 1 ] || exit 14";
        (await RunPodAsync(pods, vm, "enc-6", rootfsPci, emptyDir, limits)).Should().Be(0);
        (await vm.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue("the guest runs on");
    }

    /// <summary>Creates a pod whose one container runs <paramref name="script"/> with the volume at /vol, starts it, waits for its exit, deletes the pod; returns the exit status.</summary>
    private async Task<int> RunPodAsync(KataAgent.Protocols.Extensions.Pods.PodsClient pods, QemuVm vm, string id, string rootfsPci, PodVolume volume, string script)
    {
        await pods.CreatePodAsync(Request(id, rootfsPci, volume, script));
        try
        {
            await pods.StartPodAsync(new StartPodRequest { PodId = id });
            var exit = await vm.Agent.Agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = id + "-c", ExecId = id + "-c" });
            output.WriteLine($"{id}: exit {exit.Status}");
            return exit.Status;
        }
        finally
        {
            await pods.DeletePodAsync(new DeletePodRequest { PodId = id });
        }
    }

    private static CreatePodRequest Request(string id, string rootfsPci, PodVolume volume, string script)
    {
        string container = id + "-c";
        string rootfs = string.Format(System.Globalization.CultureInfo.InvariantCulture, RootfsMount, container);
        var create = new CreateContainerRequest
        {
            ContainerId = container,
            ExecId = container,
            OCI = ContainerSpecs.Default(rootfs, ["sh", "-c", script]),
        };
        create.Storages.Add(new Storage { Driver = "blk", Source = rootfsPci, MountPoint = rootfs, Fstype = "ext4" });
        var request = new CreatePodRequest { Sandbox = new CreateSandboxRequest { SandboxId = id, Hostname = id } };
        request.Volumes.Add(volume);
        request.Containers.Add(new PodContainer { Name = "c", Container = create, VolumeMounts = { new VolumeMount { Volume = volume.Name, ContainerPath = "/vol" } } });
        return request;
    }

    private static PodVolume Block(string pciPath, VolumeEncryption encryption) =>
        new() { Name = "secret", Block = new BlockVolume { PciPath = pciPath, FsType = "ext4", Encryption = encryption } };

    private static VolumeEncryption Provided(byte[] key) => new() { Provided = ByteString.CopyFrom(key) };

    private string Blank(string name, long bytes)
    {
        string path = _temp.File(name);
        using var stream = File.Create(path);
        stream.SetLength(bytes);
        return path;
    }
}
