using System.CommandLine;

namespace KataAgent.Kactl.Images;

/// <summary><c>kactl rmi IMAGE… [--prune] [--store DIR]</c>: images out of the store, and their unshared blobs with <c>--prune</c>.</summary>
public sealed class RmiCommand
{
    public const string Name = "rmi";

    private readonly ImageOptions _images = new();

    private readonly Argument<string[]> _names = new("IMAGE")
    {
        Description = "Images to remove: names, digests or id prefixes as 'kactl images' shows them",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<bool> _prune = new("--prune")
    {
        Description = "Then delete every blob no stored image uses any more (also alone: kactl rmi --prune)",
    };

    public RmiCommand()
    {
        Command = new Command(Name, "Remove images from the image store (their layers stay until --prune, since other images may share them); print each name removed")
        {
            _names,
            _prune,
        };
        _images.AddTo(Command, registry: false);
        Command.Validators.Add(result =>
        {
            if (result.GetValue(_names) is not { Length: > 0 } && !result.GetValue(_prune))
            {
                result.AddError("name an image to remove (kactl images lists them), or give --prune");
            }
        });
        Command.SetAction(KactlCommands.Guard(async (parseResult, cancellationToken) =>
        {
            using var images = _images.Open(parseResult);
            var missing = new List<string>();
            foreach (string name in parseResult.GetValue(_names) ?? [])
            {
                // A name removes that name; a digest or id prefix every name of the image: print what went.
                var before = await images.ListAsync(cancellationToken).ConfigureAwait(false);
                if (!await images.RemoveAsync(name, cancellationToken).ConfigureAwait(false))
                {
                    missing.Add(name);
                    continue;
                }
                var after = (await images.ListAsync(cancellationToken).ConfigureAwait(false)).Select(image => image.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var gone in before.Where(image => !after.Contains(image.Name)))
                {
                    await Console.Out.WriteLineAsync(gone.Name).ConfigureAwait(false);
                }
            }
            if (parseResult.GetValue(_prune))
            {
                long freed = await images.PruneAsync(cancellationToken).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"kactl: pruned {ByteSize.Format(freed)}").ConfigureAwait(false);
            }
            if (missing.Count > 0)
            {
                throw new KactlException(ExitCodes.ImageFailed, $"no image {string.Join(", ", missing.Select(m => $"'{m}'"))} in the store {images.StoreDirectory} ('kactl images' lists them)");
            }
            return ExitCodes.Success;
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }
}
