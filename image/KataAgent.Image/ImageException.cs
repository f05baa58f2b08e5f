namespace KataAgent.Image;

/// <summary>The one error the image library throws; <see cref="Kind"/> says what class of failure it is.</summary>
public sealed class ImageException : Exception
{
    /// <summary>An error of <paramref name="kind"/> with a message that names the image, field or path.</summary>
    public ImageException(ImageErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>What class of failure this is.</summary>
    public ImageErrorKind Kind { get; }
}
