using System.CommandLine;

namespace KataAgent.Kactl.Images;

/// <summary><c>kactl pull IMAGE [--platform P] [--plain-http REGISTRY]… [--ca FILE] [--store DIR] [-q]</c>: an image into the store.</summary>
public sealed class PullCommand
{
    public const string Name = "pull";

    private readonly ImageOptions _images = new();

    private readonly Argument<string> _image = new("IMAGE")
    {
        Description = "The image: [registry[:port]/]repository[:tag][@digest] (busybox is docker.io/library/busybox:latest)",
    };

    private readonly Option<bool> _quiet = new("--quiet", "-q")
    {
        Description = "No progress on stderr",
    };

    public PullCommand()
    {
        Command = new Command(Name, "Pull an image from its registry into the image store, with each layer's progress on stderr; print its name and digest")
        {
            _image,
            _quiet,
        };
        _images.AddTo(Command, registry: true);
        Command.SetAction(KactlCommands.Guard(async (parseResult, cancellationToken) =>
        {
            string image = parseResult.GetRequiredValue(_image);
            var platform = _images.ReadPlatform(parseResult);
            using var images = _images.Open(parseResult);
            var display = PullDisplays.ForStderr(parseResult.GetValue(_quiet));
            var stored = await PullDisplays.RunAsync(display, $"pull {image}",
                progress => images.PullAsync(image, platform, progress, cancellationToken)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"{stored.Name} {stored.ManifestDigest}").ConfigureAwait(false);
            return ExitCodes.Success;
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }
}
