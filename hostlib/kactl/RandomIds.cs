namespace KataAgent.Kactl;

/// <summary>
/// Random hex ids (a bundle's container id, a sandbox's) from the OS's CSPRNG through <see cref="Guid.NewGuid"/>.
/// Not <c>RandomNumberGenerator</c>: on Linux that loads and initialises OpenSSL (libssl, libcrypto, openssl.cnf),
/// about 2 ms of a `kactl run --bundle` without <c>--id</c> (docs/BENCHMARKS.md, "kactl's own start").
/// </summary>
internal static class RandomIds
{
    /// <summary>The bytes of a version-4 GUID that are random in full (the version and variant bits come later).</summary>
    private const int RandomPrefixBytes = 6;

    /// <summary><paramref name="bytes"/> random bytes (at most 6) as lower-case hex.</summary>
    public static string Hex(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, RandomPrefixBytes);
        Span<byte> guid = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(guid);
        return Convert.ToHexStringLower(guid[..bytes]);
    }
}
