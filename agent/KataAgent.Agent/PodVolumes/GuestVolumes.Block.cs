using KataAgent.Agent.Errors;
using KataAgent.Agent.Storage;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// Block volumes: a raw virtio-blk disk, formatted ext4 by the guest when it holds no filesystem (the superblock's
/// magic is read from the disk, never guessed), then mounted; a disk that holds one is mounted as it is, so its data
/// outlives the pod. Encrypted ones get a dm-crypt mapping first and the same on top of it (<see cref="CryptHeader"/>
/// for how a provided key is told from a wrong one).
/// </summary>
internal sealed partial class GuestVolumes
{
    /// <summary>The key length of an ephemeral key: AES-256 in XTS mode takes two 256-bit keys.</summary>
    public const int EphemeralKeyLength = 64;

    private const long SectorSize = 512;

    private async Task SetUpBlockAsync(VolumeHandle handle, BlockVolume block, string at, CancellationToken cancellationToken)
    {
        var disk = await WaitForDiskAsync(block.PciPath, $"{at}.pci_path", cancellationToken).ConfigureAwait(false);
        var filesystemDevice = block.Encryption is { } encryption
            ? OpenEncrypted(handle, disk, encryption, block.ReadOnly, at, out bool fresh)
            : OpenPlain(disk, block.ReadOnly, at, out fresh);
        if (fresh)
        {
            _logger.LogInformation("block volume {Volume} ({Device}, PCI path {Path}) holds no filesystem: formatting it ext4", handle.Name, filesystemDevice.DevicePath, block.PciPath);
            await _mke2fs.FormatDiskAsync(filesystemDevice.DevicePath, handle.Name, cancellationToken).ConfigureAwait(false);
        }
        MountExt4(filesystemDevice.DevicePath, handle.MountPoint, block.ReadOnly, at);
        handle.Mounted = true;
        handle.Path = handle.MountPoint;
    }

    /// <summary>The disk itself; <paramref name="fresh"/> when it holds no ext4 and must be formatted.</summary>
    private static BlockDevice OpenPlain(BlockDevice disk, bool readOnly, string at, out bool fresh)
    {
        byte[] head = DiskIo.Read(disk.DevicePath, 0, DiskIo.BlockSize);
        fresh = !(head[1080] == 0x53 && head[1081] == 0xEF);
        if (fresh && CryptHeader.IsPresent(head))
        {
            throw AgentException.FailedPrecondition($"{at}.encryption", "the disk holds an encrypted volume: it needs its key (encryption.provided), and formatting it as plain would destroy it");
        }
        if (fresh && readOnly)
        {
            throw AgentException.FailedPrecondition($"{at}.read_only", "the disk holds no filesystem, and a read-only volume cannot be formatted");
        }
        return disk;
    }

    /// <summary>
    /// The dm-crypt mapping over <paramref name="disk"/>, recorded in <paramref name="handle"/> before anything else can
    /// fail so that a failure removes it. Ephemeral: a fresh random key, the old header wiped, always formatted.
    /// Provided: the header and key check made on first use (after refusing to encrypt over a plain filesystem), or
    /// checked against the key, which must open it; formatted only when the opened volume holds no filesystem.
    /// </summary>
    private BlockDevice OpenEncrypted(VolumeHandle handle, BlockDevice disk, VolumeEncryption encryption, bool readOnly, string at, out bool fresh)
    {
        _modules?.Load("dm_mod", "dm_crypt", "ecb", "xts");
        string cipher = encryption.Cipher.Length > 0 ? encryption.Cipher : DefaultCipher;
        long diskSectors = DiskIo.Size(disk.DevicePath) / SectorSize;
        if (diskSectors < CryptHeader.DefaultDataOffsetSectors * 2)
        {
            throw AgentException.InvalidArgument($"{at}.pci_path", $"the disk has {diskSectors * SectorSize} bytes: an encrypted volume needs at least 2 MiB (its data starts at 1 MiB)");
        }
        string name = MappingName(handle);
        if (encryption.KeyCase == VolumeEncryption.KeyOneofCase.Ephemeral)
        {
            using var key = CryptKey.Random(EphemeralKeyLength);
            // A header or key check left by an earlier provided-key volume would now describe noise.
            DiskIo.Write(disk.DevicePath, 0, new byte[2 * DiskIo.BlockSize]);
            handle.MappingName = name;
            var mapping = DeviceMapper.CreateCrypt(name, cipher, key.Bytes, disk, CryptHeader.DefaultDataOffsetSectors, diskSectors - CryptHeader.DefaultDataOffsetSectors, readOnly: false);
            fresh = true;
            _logger.LogInformation("block volume {Volume}: dm-crypt {Cipher} with an ephemeral key as {Mapping}", handle.Name, cipher, mapping.DevicePath);
            return mapping;
        }
        using (var key = CryptKey.Copy(encryption.Provided.Span))
        {
            byte[] head = DiskIo.Read(disk.DevicePath, 0, DiskIo.BlockSize);
            var header = CryptHeader.TryParse(head);
            if (header is null)
            {
                if (head[1080] == 0x53 && head[1081] == 0xEF)
                {
                    throw AgentException.FailedPrecondition($"{at}.encryption", "the disk holds a plain ext4 filesystem: encrypting it would destroy it");
                }
                if (readOnly)
                {
                    throw AgentException.FailedPrecondition($"{at}.read_only", "the disk holds no encrypted volume yet, and a read-only volume cannot be made");
                }
                header = CryptHeader.Create(cipher, key.Length);
                // The key check first, the header last: a header on the disk always has its check block.
                WithCheckMapping(name, header, key, disk, readOnly: false, check => DiskIo.Write(check.DevicePath, 0, header.CheckBlock()));
                DiskIo.Write(disk.DevicePath, 0, header.ToBlock());
                _logger.LogInformation("block volume {Volume}: new encrypted volume ({Cipher}, {Bits}-bit key) on {Device}", handle.Name, cipher, key.Length * 4, disk.DevicePath);
            }
            else
            {
                if (header.Cipher != cipher || header.KeyLength != key.Length)
                {
                    throw AgentException.FailedPrecondition($"{at}.encryption", $"the volume was made with {header.Cipher} and a {header.KeyLength}-byte key, not {cipher} and {key.Length} bytes");
                }
                if (header.DataOffsetSectors < CryptHeader.CheckOffsetSectors + CryptHeader.CheckSectors || header.DataOffsetSectors >= diskSectors)
                {
                    throw AgentException.FailedPrecondition($"{at}.pci_path", $"the encrypted volume's header is damaged (data offset {header.DataOffsetSectors} sectors)");
                }
                bool opens = false;
                WithCheckMapping(name, header, key, disk, readOnly: true, check => opens = DiskIo.Read(check.DevicePath, 0, DiskIo.BlockSize).AsSpan().SequenceEqual(header.CheckBlock()));
                if (!opens)
                {
                    throw AgentException.PermissionDenied($"{at}.encryption.provided", "the key does not open this volume");
                }
            }
            handle.MappingName = name;
            var mapping = DeviceMapper.CreateCrypt(name, cipher, key.Bytes, disk, header.DataOffsetSectors, diskSectors - header.DataOffsetSectors, readOnly);
            fresh = !DiskIo.HoldsExt4(mapping.DevicePath);
            if (fresh && readOnly)
            {
                throw AgentException.FailedPrecondition($"{at}.read_only", "the encrypted volume holds no filesystem, and a read-only volume cannot be formatted");
            }
            _logger.LogInformation("block volume {Volume}: dm-crypt {Cipher} with the provided key as {Mapping}", handle.Name, cipher, mapping.DevicePath);
            return mapping;
        }
    }

    /// <summary>Maps the key-check block alone, runs <paramref name="use"/> on it, and removes the mapping whatever happens.</summary>
    private static void WithCheckMapping(string name, CryptHeader header, CryptKey key, BlockDevice disk, bool readOnly, Action<BlockDevice> use)
    {
        string checkName = name + "-check";
        var check = DeviceMapper.CreateCrypt(checkName, header.Cipher, key.Bytes, disk, CryptHeader.CheckOffsetSectors, CryptHeader.CheckSectors, readOnly, CryptHeader.CheckIvOffset);
        try
        {
            use(check);
        }
        finally
        {
            DeviceMapper.Remove(checkName);
        }
    }

    /// <summary>kataagent-POD-NAME within DM_NAME_LEN: a pod id is cut to 32 characters (one pod per guest).</summary>
    private static string MappingName(VolumeHandle handle) =>
        $"kataagent-{(handle.PodId.Length > 32 ? handle.PodId[..32] : handle.PodId)}-{handle.Name}";
}
