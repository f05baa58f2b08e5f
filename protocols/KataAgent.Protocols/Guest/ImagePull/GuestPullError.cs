namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>A failed guest pull: the image library's error kind (<c>KataAgent.Image.ImageErrorKind</c>, by name) and message.</summary>
/// <param name="Kind">InvalidInput, NotFound, Unauthorized, DigestMismatch, Unavailable, PathEscape, Unsupported, or Internal.</param>
/// <param name="Message">What went wrong, naming the image, field or path.</param>
public sealed record GuestPullError(string Kind, string Message);
