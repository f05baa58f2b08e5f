namespace KataAgent.Image;

/// <summary>What went wrong in an image operation: the edges (kactl, the agent) map it to an exit code or status once.</summary>
public enum ImageErrorKind
{
    /// <summary>A reference, a manifest, a layer entry or an option is malformed or unsupported.</summary>
    InvalidInput,

    /// <summary>The registry or the store has no such image, tag or blob.</summary>
    NotFound,

    /// <summary>The registry refused the credentials (or there were none and it wants some).</summary>
    Unauthorized,

    /// <summary>Content does not match the digest (or size) that names it.</summary>
    DigestMismatch,

    /// <summary>The registry could not be reached or answered with a server error after the retries.</summary>
    Unavailable,

    /// <summary>A layer entry would resolve outside the root it is unpacked into.</summary>
    PathEscape,

    /// <summary>A media type, platform or layer feature we do not handle.</summary>
    Unsupported,
}
