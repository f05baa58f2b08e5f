using System.Security.Cryptography;

namespace KataAgent.Image.References;

/// <summary>
/// A content digest, <c>sha256:&lt;64 lowercase hex&gt;</c> (or sha512). Validated on parse, so a digest can name a
/// file in the content store without escaping it.
/// </summary>
public readonly record struct Digest
{
    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary><c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The lowercase hex encoding of the hash.</summary>
    public string Hex { get; }

    /// <summary>Parses <c>algorithm:hex</c>; anything else is <see cref="ImageErrorKind.InvalidInput"/>.</summary>
    public static Digest Parse(string value)
    {
        if (TryParse(value, out var digest))
            return digest;
        throw new ImageException(ImageErrorKind.InvalidInput, $"'{value}' is not a digest (sha256:<64 hex> or sha512:<128 hex>)");
    }

    /// <summary>Parses <c>algorithm:hex</c> without throwing.</summary>
    public static bool TryParse(string? value, out Digest digest)
    {
        digest = default;
        if (value is null)
            return false;
        var colon = value.IndexOf(':');
        if (colon <= 0)
            return false;
        var algorithm = value[..colon];
        var hex = value[(colon + 1)..];
        var length = algorithm switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (hex.Length != length)
            return false;
        foreach (var c in hex)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
                return false;
        }
        digest = new Digest(algorithm, hex);
        return true;
    }

    /// <summary>The sha256 digest of <paramref name="content"/>.</summary>
    public static Digest Sha256Of(ReadOnlySpan<byte> content) =>
        new("sha256", Convert.ToHexStringLower(SHA256.HashData(content)));

    /// <summary>A digest from a finished hash of <paramref name="algorithm"/>.</summary>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash) =>
        Parse(algorithm + ":" + Convert.ToHexStringLower(hash));

    /// <summary>An incremental hash of this digest's algorithm, to verify content while it streams.</summary>
    public IncrementalHash CreateHash() => Algorithm switch
    {
        "sha256" => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        "sha512" => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => throw new ImageException(ImageErrorKind.InvalidInput, "a default Digest has no algorithm"),
    };

    /// <inheritdoc/>
    public override string ToString() => Algorithm + ":" + Hex;
}
