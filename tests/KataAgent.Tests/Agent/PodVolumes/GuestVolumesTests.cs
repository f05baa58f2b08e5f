using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Agent.PodVolumes;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.PodVolumes;

/// <summary>
/// Pod volumes set up by the guest (<see cref="GuestVolumes"/>), as root on the host: tmpfs emptyDirs, disk-backed
/// emptyDirs on a scratch loop disk with their size limit, block volumes formatted on first use and kept after. This
/// host's kernel has no device-mapper, so dm-crypt is tested in a VM (VmTests' PodVolumes/EncryptedVolumeInVmTests).
/// </summary>
[Collection(HostMountTableCollection.Name)]
public sealed class GuestVolumesTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const int ENOSPC = 28;
    private const int EROFS = 30;
    private readonly GuestVolumesHost _host = new();
    private readonly string _pod = $"pod-{Guid.NewGuid():N}";

    [Fact]
    public async Task A_memory_emptyDir_is_a_tmpfs_that_refuses_writes_beyond_its_size_limit_with_ENOSPC()
    {
        var volume = EmptyDir("cache", EmptyDirVolume.Types.Medium.Memory, 4 * MiB);

        string path = await _host.Volumes.SetUpAsync(_pod, volume, "volumes[0]", CancellationToken.None);

        _host.Mounts().Should().ContainSingle(m => m.MountPoint == path && m.FsType == "tmpfs");
        (File.GetUnixFileMode(path) & (UnixFileMode)0x1FF).Should().Be((UnixFileMode)0x1FF, "emptyDirs are open to every user, as the kubelet makes them");
        Write(Path.Combine(path, "fits"), 3 * MiB).Should().Be(0);
        Write(Path.Combine(path, "beyond"), 2 * MiB).Should().Be(ENOSPC);

        await _host.Volumes.TearDownAsync(_pod, "cache", CancellationToken.None);
        _host.Mounts().Should().BeEmpty();
        Directory.Exists(path).Should().BeFalse();
        await _host.Volumes.TearDownAsync(_pod, "cache", CancellationToken.None);
    }

    [Fact]
    public async Task A_default_emptyDir_without_a_scratch_disk_is_a_tmpfs_too()
    {
        string path = await _host.Volumes.SetUpAsync(_pod, EmptyDir("scratchless", EmptyDirVolume.Types.Medium.Default, 2 * MiB), "volumes[0]", CancellationToken.None);

        _host.Mounts().Should().ContainSingle(m => m.MountPoint == path && m.FsType == "tmpfs");
        Write(Path.Combine(path, "beyond"), 3 * MiB).Should().Be(ENOSPC);
        await _host.Volumes.TearDownAsync(_pod, "scratchless", CancellationToken.None);
        _host.Mounts().Should().BeEmpty();
    }

    [Fact]
    public async Task Disk_emptyDirs_share_the_formatted_scratch_disk_and_each_has_exactly_its_size_limit()
    {
        await using var scratch = await BlankLoopDisk.CreateAsync(128 * MiB);
        string pci = _host.Plug(scratch);

        string limited = await _host.Volumes.SetUpAsync(_pod, EmptyDir("limited", EmptyDirVolume.Types.Medium.Default, 16 * MiB, pci), "volumes[0]", CancellationToken.None);
        string unlimited = await _host.Volumes.SetUpAsync(_pod, EmptyDir("unlimited", EmptyDirVolume.Types.Medium.Default, 0, pci), "volumes[1]", CancellationToken.None);

        scratch.HoldsExt4().Should().BeTrue("the guest formats a scratch disk that holds no filesystem");
        var mounts = _host.Mounts();
        mounts.Where(m => m.Source == scratch.DevicePath).Should().ContainSingle("the pod's emptyDirs share one scratch mount");
        mounts.Should().ContainSingle(m => m.Source.StartsWith("/dev/loop") && m.Source != scratch.DevicePath && m.FsType == "ext4", "the limited volume is an image of its own");
        Directory.EnumerateFileSystemEntries(limited).Should().BeEmpty("an emptyDir starts empty");
        Available(limited).Should().Be(16 * MiB, "the filesystem's own metadata is not taken from the limit");
        Write(Path.Combine(limited, "fits"), 15 * MiB).Should().Be(0);
        Write(Path.Combine(limited, "beyond"), 2 * MiB).Should().Be(ENOSPC);
        Write(Path.Combine(unlimited, "big"), 40 * MiB).Should().Be(0, "without a limit the volume has the scratch disk");

        await _host.Volumes.TearDownAsync(_pod, "limited", CancellationToken.None);
        _host.Mounts().Should().ContainSingle(m => m.Source == scratch.DevicePath, "the other emptyDir still uses the scratch disk");
        await _host.Volumes.TearDownAsync(_pod, "unlimited", CancellationToken.None);
        _host.Mounts().Should().BeEmpty();
        GuestVolumesHost.LoopsBackedBelow(_host.Root).Should().BeEmpty();
        Directory.Exists(Path.Combine(_host.Root, _pod)).Should().BeFalse();
    }

    [Fact]
    public async Task A_block_volume_is_formatted_on_first_use_and_mounted_as_it_is_after_that()
    {
        await using var disk = await BlankLoopDisk.CreateAsync(64 * MiB);
        string pci = _host.Plug(disk);
        var volume = Block("data", pci);

        string path = await _host.Volumes.SetUpAsync(_pod, volume, "volumes[0]", CancellationToken.None);
        _host.Formats.Should().Be(1);
        _host.Mounts().Should().ContainSingle(m => m.MountPoint == path && m.Source == disk.DevicePath && m.FsType == "ext4");
        await File.WriteAllTextAsync(Path.Combine(path, "marker"), "kept across pod restarts");
        await _host.Volumes.TearDownAsync(_pod, "data", CancellationToken.None);
        _host.Mounts().Should().BeEmpty();

        // The pod again, in a new guest agent: the disk holds ext4 now.
        var again = _host.New();
        path = await again.SetUpAsync(_pod, volume, "volumes[0]", CancellationToken.None);
        _host.Formats.Should().Be(1, "a disk that holds a filesystem is never formatted again");
        (await File.ReadAllTextAsync(Path.Combine(path, "marker"))).Should().Be("kept across pod restarts");
        await again.TearDownAsync(_pod, "data", CancellationToken.None);

        var readOnly = Block("data", pci);
        readOnly.Block.ReadOnly = true;
        path = await again.SetUpAsync(_pod, readOnly, "volumes[0]", CancellationToken.None);
        (await File.ReadAllTextAsync(Path.Combine(path, "marker"))).Should().Be("kept across pod restarts");
        Write(Path.Combine(path, "new"), 4096).Should().Be(EROFS);
        await again.TearDownAsync(_pod, "data", CancellationToken.None);
        _host.Mounts().Should().BeEmpty();
        Directory.Exists(Path.Combine(_host.Root, _pod)).Should().BeFalse();
    }

    [Fact]
    public async Task A_read_only_block_volume_on_a_blank_disk_is_refused_and_leaves_nothing()
    {
        await using var disk = await BlankLoopDisk.CreateAsync(16 * MiB);
        var volume = Block("blank", _host.Plug(disk));
        volume.Block.ReadOnly = true;

        var refusal = await FluentActions.Awaiting(() => _host.Volumes.SetUpAsync(_pod, volume, "volumes[2]", CancellationToken.None)).Should().ThrowAsync<AgentException>();

        refusal.Which.Kind.Should().Be(AgentErrorKind.FailedPrecondition);
        refusal.Which.Field.Should().Be("volumes[2].block.read_only");
        _host.Formats.Should().Be(0);
        disk.HoldsExt4().Should().BeFalse();
        _host.Mounts().Should().BeEmpty();
        Directory.Exists(Path.Combine(_host.Root, _pod)).Should().BeFalse("nothing of a failed set-up is left");
        _host.Volumes.VolumesOf(_pod).Should().BeEmpty();
    }

    [Fact]
    public async Task A_disk_that_never_appears_is_DEADLINE_EXCEEDED_naming_the_field_and_leaves_nothing()
    {
        var refusal = await FluentActions.Awaiting(() => _host.Volumes.SetUpAsync(_pod, EmptyDir("late", EmptyDirVolume.Types.Medium.Default, MiB, "1f"), "volumes[0]", CancellationToken.None)).Should().ThrowAsync<AgentException>();

        refusal.Which.Kind.Should().Be(AgentErrorKind.DeadlineExceeded);
        refusal.Which.Field.Should().Be("volumes[0].empty_dir.scratch_pci_path");
        Directory.Exists(Path.Combine(_host.Root, _pod)).Should().BeFalse();
    }

    [Fact]
    public async Task A_second_volume_of_the_same_name_is_ALREADY_EXISTS_and_the_first_is_kept()
    {
        string path = await _host.Volumes.SetUpAsync(_pod, EmptyDir("twice", EmptyDirVolume.Types.Medium.Memory, MiB), "volumes[0]", CancellationToken.None);

        var refusal = await FluentActions.Awaiting(() => _host.Volumes.SetUpAsync(_pod, EmptyDir("twice", EmptyDirVolume.Types.Medium.Memory, MiB), "volumes[1]", CancellationToken.None)).Should().ThrowAsync<AgentException>();

        refusal.Which.Kind.Should().Be(AgentErrorKind.AlreadyExists);
        refusal.Which.Field.Should().Be("volumes[1].name");
        _host.Mounts().Should().ContainSingle(m => m.MountPoint == path);
        await _host.Volumes.TearDownAsync(_pod, "twice", CancellationToken.None);
    }

    public static TheoryData<string, string> BadVolumes => new()
    {
        { "name", "Bad_Name" },
        { "empty_dir.scratch_pci_path", "scratch=zz" },
        { "empty_dir.scratch_pci_path", "memory-with-scratch" },
        { "block.pci_path", "pci=" },
        { "block.fs_type", "fs=xfs" },
        { "block.encryption.cipher", "cipher=aes-cbc-essiv:sha256" },
        { "block.encryption.provided", "key=16" },
        { "block.read_only", "ephemeral-read-only" },
        { "block.encryption", "no-key" },
        { "", "no-source" },
    };

    [Theory]
    [MemberData(nameof(BadVolumes))]
    public async Task Bad_fields_are_INVALID_ARGUMENT_naming_the_field_before_anything_is_touched(string field, string variant)
    {
        var volume = variant switch
        {
            "Bad_Name" => EmptyDir("Bad_Name", EmptyDirVolume.Types.Medium.Memory, 0),
            "scratch=zz" => EmptyDir("v", EmptyDirVolume.Types.Medium.Default, 0, "zz"),
            "memory-with-scratch" => EmptyDir("v", EmptyDirVolume.Types.Medium.Memory, 0, "02"),
            "pci=" => Block("v", ""),
            "fs=xfs" => Block("v", "02", fsType: "xfs"),
            "cipher=aes-cbc-essiv:sha256" => Block("v", "02", new VolumeEncryption { Ephemeral = new EphemeralKey(), Cipher = "aes-cbc-essiv:sha256" }),
            "key=16" => Block("v", "02", new VolumeEncryption { Provided = Google.Protobuf.ByteString.CopyFrom(new byte[16]) }),
            "ephemeral-read-only" => Block("v", "02", new VolumeEncryption { Ephemeral = new EphemeralKey() }, readOnly: true),
            "no-key" => Block("v", "02", new VolumeEncryption()),
            _ => new PodVolume { Name = "v" },
        };

        var refusal = await FluentActions.Awaiting(() => _host.Volumes.SetUpAsync(_pod, volume, "volumes[3]", CancellationToken.None)).Should().ThrowAsync<AgentException>();

        refusal.Which.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        refusal.Which.Field.Should().Be(field.Length == 0 ? "volumes[3]" : $"volumes[3].{field}");
        Directory.Exists(Path.Combine(_host.Root, _pod)).Should().BeFalse();
    }

    [Fact]
    public async Task A_provided_key_is_wiped_from_the_request_even_when_refused()
    {
        byte[] key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var volume = Block("v", "zz", new VolumeEncryption { Provided = Google.Protobuf.ByteString.CopyFrom(key) });

        await FluentActions.Awaiting(() => _host.Volumes.SetUpAsync(_pod, volume, "volumes[0]", CancellationToken.None)).Should().ThrowAsync<AgentException>();

        volume.Block.Encryption.Provided.ToByteArray().Should().OnlyContain(b => b == 0);
    }

    public void Dispose() => _host.Dispose();

    private static PodVolume EmptyDir(string name, EmptyDirVolume.Types.Medium medium, long limit, string scratch = "") =>
        new() { Name = name, EmptyDir = new EmptyDirVolume { Medium = medium, SizeLimitBytes = (ulong)limit, ScratchPciPath = scratch } };

    private static PodVolume Block(string name, string pci, VolumeEncryption? encryption = null, bool readOnly = false, string fsType = "ext4") =>
        new() { Name = name, Block = new BlockVolume { PciPath = pci, FsType = fsType, Encryption = encryption, ReadOnly = readOnly } };

    /// <summary>Writes <paramref name="bytes"/> of non-zero data and syncs them; 0 or the errno the write (or fsync) failed with.</summary>
    private static int Write(string path, long bytes)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            byte[] chunk = Enumerable.Repeat((byte)0x5A, (int)MiB).ToArray();
            for (long done = 0; done < bytes; done += chunk.Length)
            {
                stream.Write(chunk, 0, (int)Math.Min(chunk.Length, bytes - done));
            }
            stream.Flush(flushToDisk: true);
            return 0;
        }
        catch (IOException e)
        {
            return e.HResult & 0xFFFF;
        }
        catch (UnauthorizedAccessException e) when (e.InnerException is IOException inner)
        {
            return inner.HResult & 0xFFFF;
        }
    }

    private static unsafe long Available(string path)
    {
        AgentLibc.StatFs stat;
        AgentLibc.Statfs(path, &stat).Should().Be(0);
        return (long)stat.BlocksAvailable * stat.BlockSize;
    }
}
