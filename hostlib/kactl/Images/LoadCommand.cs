using System.CommandLine;

namespace KataAgent.Kactl.Images;

/// <summary><c>kactl load DIR|ARCHIVE [--name NAME] [--platform P] [--store DIR]</c>: images from an OCI layout, for machines without a registry.</summary>
public sealed class LoadCommand
{
    public const string Name = "load";

    private readonly ImageOptions _images = new();

    private readonly Argument<string> _path = new("DIR|ARCHIVE")
    {
        Description = "An OCI image layout: a directory (oci-layout, index.json, blobs/) or a tar archive of one (skopeo copy … oci-archive:FILE)",
    };

    private readonly Option<string?> _name = new("--name")
    {
        Description = "Store the image under this name instead of the layout's org.opencontainers.image.ref.name",
        HelpName = "NAME",
    };

    public LoadCommand()
    {
        Command = new Command(Name, "Load the images of an OCI image layout (directory or archive) into the image store, every blob verified; print each name and digest")
        {
            _path,
            _name,
            _images.Platform,
        };
        _images.AddTo(Command, registry: false);
        Command.SetAction(KactlCommands.Guard(async (parseResult, cancellationToken) =>
        {
            string path = parseResult.GetRequiredValue(_path);
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                throw new KactlException(ExitCodes.Usage, $"{path} does not exist (give an OCI layout directory or archive)");
            }
            var platform = _images.ReadPlatform(parseResult);
            using var images = _images.Open(parseResult);
            var loaded = await images.LoadAsync(path, parseResult.GetValue(_name), platform, cancellationToken).ConfigureAwait(false);
            foreach (var image in loaded)
            {
                await Console.Out.WriteLineAsync($"{image.Name} {image.ManifestDigest}").ConfigureAwait(false);
            }
            return ExitCodes.Success;
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }
}
