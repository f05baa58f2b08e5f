namespace KataAgent.Rootfs.Image;

/// <summary>
/// What a guest image needs for guest pull (<c>kata-rootfs build --guest-pull</c>): the helper binary the agent runs,
/// the OpenSSL libraries .NET loads at run time for TLS (dlopen, so no ELF dependency names them), and a CA bundle.
/// A default image has none of it.
/// </summary>
public sealed class GuestPullFiles
{
    /// <summary>Where the helper goes in the image (the agent runs it from there).</summary>
    public const string HelperImagePath = "/usr/bin/kata-image-pull";

    /// <summary>Where the CA bundle goes (Debian's path, which the helper trusts by default).</summary>
    public const string CaBundleImagePath = "/etc/ssl/certs/ca-certificates.crt";

    /// <summary>The host's CA bundle (Debian's ca-certificates).</summary>
    public const string DefaultCaBundle = "/etc/ssl/certs/ca-certificates.crt";

    /// <summary>The OpenSSL 3 libraries .NET's TLS opens by soname (System.Security.Cryptography.Native).</summary>
    public static IReadOnlyList<string> TlsLibraries { get; } = ["libssl.so.3", "libcrypto.so.3"];

    /// <summary>The helper binary on the host (normally <c>out/kata-image-pull</c>, next to the agent).</summary>
    public required string HelperPath { get; init; }

    /// <summary>The CA bundle to copy in.</summary>
    public string CaBundlePath { get; init; } = DefaultCaBundle;
}
