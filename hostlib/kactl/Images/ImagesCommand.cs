using System.CommandLine;
using System.Text;
using KataAgent.Image.Store;

namespace KataAgent.Kactl.Images;

/// <summary><c>kactl images [-q] [--store DIR]</c>: the stored images.</summary>
public sealed class ImagesCommand
{
    public const string Name = "images";

    /// <summary>The length of the short id <c>images</c> prints (docker's 12 hex digits).</summary>
    public const int ShortIdLength = 12;

    private readonly ImageOptions _images = new();

    private readonly Option<bool> _quiet = new("--quiet", "-q")
    {
        Description = "Print only the image ids (the manifest digests' first 12 hex digits), one per line",
    };

    public ImagesCommand()
    {
        Command = new Command(Name, "List the images in the image store: name, id (the manifest digest, short), size (manifest, config and compressed layers) and when it was stored")
        {
            _quiet,
        };
        _images.AddTo(Command, registry: false);
        Command.SetAction(KactlCommands.Guard(async (parseResult, cancellationToken) =>
        {
            using var images = _images.Open(parseResult);
            var list = await images.ListAsync(cancellationToken).ConfigureAwait(false);
            string text = parseResult.GetValue(_quiet)
                ? string.Concat(list.Select(image => ShortId(image) + "\n"))
                : Format(list, DateTimeOffset.UtcNow);
            await Console.Out.WriteAsync(text).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    /// <summary>The table: a header and one line per image, columns padded to their widest cell.</summary>
    public static string Format(IReadOnlyList<StoredImage> images, DateTimeOffset now)
    {
        var rows = new List<string[]> { new[] { "NAME", "ID", "SIZE", "STORED" } };
        rows.AddRange(images.Select(image => new[]
        {
            image.Name,
            ShortId(image),
            ByteSize.Format(image.Size),
            PsCommand.Age(now - image.Stored) + " ago",
        }));
        int[] widths = Enumerable.Range(0, 3).Select(column => rows.Max(row => row[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (string[] row in rows)
        {
            for (int column = 0; column < 3; column++)
            {
                text.Append(row[column].PadRight(widths[column])).Append("  ");
            }
            text.Append(row[3]).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The image's id as people type it: its manifest digest's first 12 hex digits.</summary>
    public static string ShortId(StoredImage image) => image.ManifestDigest.Hex[..Math.Min(ShortIdLength, image.ManifestDigest.Hex.Length)];
}
