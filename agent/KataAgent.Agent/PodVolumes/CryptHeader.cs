using System.Buffers.Binary;
using System.Text;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// The plaintext header of an encrypted volume made with a provided key, in the disk's first 4 KiB. Plain dm-crypt
/// has no way to tell a wrong key from an empty disk: both decrypt to noise, and formatting that noise would destroy
/// the volume for the right key. So the header holds a random nonce, and the next 4 KiB hold, encrypted with the
/// volume's key (at IV sectors no data sector uses), a known text followed by that nonce: a key opens the volume only
/// if it decrypts that block to exactly this. The header holds no secret: the cipher's name, the key's length, where
/// the data starts, and the nonce. The data (the ext4 filesystem) starts at 1 MiB.
/// </summary>
internal sealed record CryptHeader(string Cipher, int KeyLength, long DataOffsetSectors, byte[] Nonce)
{
    /// <summary>Bytes 0–15.</summary>
    public static ReadOnlySpan<byte> Magic => "KATAAGENT-CRYPT1"u8;

    /// <summary>Where the data starts: 1 MiB, in 512-byte sectors.</summary>
    public const long DefaultDataOffsetSectors = 2048;

    /// <summary>The key-check block: raw sectors 8–15.</summary>
    public const long CheckOffsetSectors = 8;

    /// <summary>The key-check block's length in sectors (4 KiB).</summary>
    public const long CheckSectors = 8;

    /// <summary>The key-check block's IV sectors start here, far beyond any data sector, so no (key, IV) pair is used twice.</summary>
    public const ulong CheckIvOffset = 1UL << 48;

    private const int Version = 1;
    private const int CipherOffset = 32;
    private const int CipherCapacity = 64;
    private const int NonceOffset = 96;
    private const int NonceLength = 32;

    /// <summary>A header for a new volume, with a fresh nonce.</summary>
    public static CryptHeader Create(string cipher, int keyLength)
    {
        byte[] nonce = new byte[NonceLength];
        KataAgent.Agent.Interop.AgentLibc.FillRandom(nonce);
        return new CryptHeader(cipher, keyLength, DefaultDataOffsetSectors, nonce);
    }

    /// <summary>The header in <paramref name="block"/> (a disk's first 4 KiB), or null when there is none.</summary>
    public static CryptHeader? TryParse(ReadOnlySpan<byte> block)
    {
        if (block.Length < DiskIo.BlockSize || !block[..16].SequenceEqual(Magic) || BinaryPrimitives.ReadInt32LittleEndian(block[16..]) != Version)
        {
            return null;
        }
        var cipher = block.Slice(CipherOffset, CipherCapacity);
        int end = cipher.IndexOf((byte)0);
        return new CryptHeader(
            Encoding.ASCII.GetString(end < 0 ? cipher : cipher[..end]),
            BinaryPrimitives.ReadInt32LittleEndian(block[20..]),
            BinaryPrimitives.ReadInt64LittleEndian(block[24..]),
            block.Slice(NonceOffset, NonceLength).ToArray());
    }

    /// <summary>True when <paramref name="block"/> starts with the header's magic (an encrypted volume's raw disk).</summary>
    public static bool IsPresent(ReadOnlySpan<byte> block) => block.Length >= 16 && block[..16].SequenceEqual(Magic);

    /// <summary>The header as the disk's first 4 KiB.</summary>
    public byte[] ToBlock()
    {
        byte[] block = new byte[DiskIo.BlockSize];
        Magic.CopyTo(block);
        BinaryPrimitives.WriteInt32LittleEndian(block.AsSpan(16), Version);
        BinaryPrimitives.WriteInt32LittleEndian(block.AsSpan(20), KeyLength);
        BinaryPrimitives.WriteInt64LittleEndian(block.AsSpan(24), DataOffsetSectors);
        Encoding.ASCII.GetBytes(Cipher, block.AsSpan(CipherOffset, CipherCapacity - 1));
        Nonce.CopyTo(block.AsSpan(NonceOffset));
        return block;
    }

    /// <summary>What the key-check block decrypts to with the right key.</summary>
    public byte[] CheckBlock()
    {
        byte[] block = new byte[DiskIo.BlockSize];
        "KATAAGENT-KEYCHECK-1"u8.CopyTo(block);
        Nonce.CopyTo(block.AsSpan(32));
        return block;
    }
}
