using KataAgent.Image;
using KataAgent.Image.Registry;

namespace KataAgent.Kactl.Images;

/// <summary>What kactl says for an <see cref="ImageException"/>: the library's message (it names the image, registry or path) and, for the kinds a user can act on, what to do.</summary>
public static class ImageErrors
{
    /// <summary>The message, with a hint for the kinds that have one.</summary>
    public static string Describe(ImageException e) => e.Kind switch
    {
        ImageErrorKind.Unauthorized => $"{e.Message} (kactl reads credentials from {DockerConfigCredentials.DefaultPath}, or $DOCKER_CONFIG/config.json)",
        ImageErrorKind.Unavailable => $"{e.Message} (is it up? a registry without TLS needs --plain-http REGISTRY, one with a private CA --ca FILE)",
        ImageErrorKind.DigestMismatch => $"{e.Message} (nothing of it was kept; pull again)",
        _ => e.Message,
    };
}
