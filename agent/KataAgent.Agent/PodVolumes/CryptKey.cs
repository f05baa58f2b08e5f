using System.Security.Cryptography;
using KataAgent.Agent.Interop;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// A dm-crypt key in a pinned array (the collector never moves it, so no stray copy is left), wiped on
/// <see cref="Dispose"/>. It lives only while the mapping is set up: the kernel keeps its own copy in the dm-crypt
/// target and wipes it when the mapping is removed.
/// </summary>
internal sealed class CryptKey : IDisposable
{
    private readonly byte[] _bytes;

    private CryptKey(int length) => _bytes = GC.AllocateArray<byte>(length, pinned: true);

    /// <summary>The key bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The key's length in bytes.</summary>
    public int Length => _bytes.Length;

    /// <summary>A new key from the guest kernel's CRNG (getrandom): it never exists anywhere else.</summary>
    public static CryptKey Random(int length)
    {
        var key = new CryptKey(length);
        AgentLibc.FillRandom(key._bytes);
        return key;
    }

    /// <summary>A copy of <paramref name="source"/>; the caller wipes its own buffer.</summary>
    public static CryptKey Copy(ReadOnlySpan<byte> source)
    {
        var key = new CryptKey(source.Length);
        source.CopyTo(key._bytes);
        return key;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_bytes);
}
