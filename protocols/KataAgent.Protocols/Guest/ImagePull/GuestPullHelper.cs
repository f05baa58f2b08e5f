namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>Where the guest pull helper and its storage are in a guest built with <c>kata-rootfs build --guest-pull</c>.</summary>
public static class GuestPullHelper
{
    /// <summary>The helper binary the agent runs (absent from a default guest image).</summary>
    public const string Path = "/usr/bin/kata-image-pull";

    /// <summary>Guest pull's work directory (Kata's and image-rs' <c>KATA_IMAGE_WORK_DIR</c>).</summary>
    public const string WorkDirectory = GuestLayout.RunDirectory + "/image";

    /// <summary>The CA bundle the helper trusts when a request brings none (Debian's path).</summary>
    public const string CaBundle = "/etc/ssl/certs/ca-certificates.crt";

    /// <summary>The exit code of a pull that failed with an error written as JSON.</summary>
    public const int Failed = 1;

    /// <summary>The exit code of a request that could not be read.</summary>
    public const int BadRequest = 2;
}
