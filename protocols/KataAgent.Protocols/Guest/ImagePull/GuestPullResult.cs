namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>
/// What the guest pull helper writes on its stdout: on success the image's process and manifest digest (exit 0);
/// on failure the error alone (a non-zero exit).
/// </summary>
public sealed record GuestPullResult
{
    /// <summary>The pulled manifest's digest (<c>sha256:…</c>).</summary>
    public string? ManifestDigest { get; init; }

    /// <summary>The process the image's config gives, with the caller's overrides.</summary>
    public GuestPullProcess? Process { get; init; }

    /// <summary>Why the pull failed, or null.</summary>
    public GuestPullError? Error { get; init; }
}
