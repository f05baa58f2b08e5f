using System.CommandLine;
using KataAgent.Host.Images;
using KataAgent.Image;
using KataAgent.Image.Manifests;

namespace KataAgent.Kactl.Images;

/// <summary>The options image commands share: the store, and how registries are reached (<c>--plain-http</c>, <c>--ca</c>, <c>--platform</c>).</summary>
public sealed class ImageOptions
{
    /// <summary>Environment variable naming the store when <c>--store</c> is not given (tests, a store per user).</summary>
    public const string StoreVariable = "KACTL_IMAGE_STORE";

    public Option<string?> Store { get; } = new("--store")
    {
        Description = $"The image store (default: ${StoreVariable}, else {HostImages.RootStoreDirectory} as root, $XDG_DATA_HOME/kataagent/images otherwise)",
        HelpName = "DIR",
    };

    public Option<string[]> PlainHttp { get; } = new("--plain-http")
    {
        Description = "Speak plain HTTP, not HTTPS, to this registry (host[:port] as the image name has it); repeat for more",
        HelpName = "REGISTRY",
    };

    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = "Trust the CAs in this PEM file for registries instead of the system's",
        HelpName = "FILE",
    };

    public Option<string?> Platform { get; } = new("--platform")
    {
        Description = $"The platform to pull from a multi-platform image: os/arch[/variant] (default: this machine's, {KataAgent.Image.Manifests.Platform.Current})",
        HelpName = "PLATFORM",
    };

    /// <summary>The registry options (pull and run).</summary>
    public IReadOnlyList<Option> RegistryOptions => [PlainHttp, Ca, Platform];

    /// <summary>Adds <see cref="Store"/> and, when <paramref name="registry"/>, <see cref="RegistryOptions"/> to <paramref name="command"/>.</summary>
    public void AddTo(Command command, bool registry)
    {
        command.Add(Store);
        if (registry)
        {
            foreach (var option in RegistryOptions)
            {
                command.Add(option);
            }
        }
    }

    /// <summary>The platform asked for, or null for this machine's.</summary>
    /// <exception cref="KactlException">Not os/arch[/variant] (exit 2).</exception>
    public Platform? ReadPlatform(ParseResult parseResult)
    {
        if (parseResult.GetValue(Platform) is not { } text)
        {
            return null;
        }
        try
        {
            return KataAgent.Image.Manifests.Platform.Parse(text);
        }
        catch (ImageException e)
        {
            throw new KactlException(ExitCodes.Usage, $"--platform: {e.Message}", e);
        }
    }

    /// <summary>The images in the store the command line names, reached as it says.</summary>
    /// <exception cref="KactlException">A CA file that is not there (exit 2), or a store that cannot be opened.</exception>
    public HostImages Open(ParseResult parseResult)
    {
        string? ca = parseResult.GetResult(Ca) is null ? null : parseResult.GetValue(Ca);
        if (ca is not null && !File.Exists(ca))
        {
            throw new KactlException(ExitCodes.Usage, $"--ca: the CA file {ca} does not exist");
        }
        string? store = parseResult.GetValue(Store) ?? (Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null);
        var plain = parseResult.GetResult(PlainHttp) is null ? [] : parseResult.GetValue(PlainHttp) ?? [];
        try
        {
            return new HostImages(new HostImagesOptions
            {
                StoreDirectory = store,
                PlainHttpRegistries = new HashSet<string>(plain, StringComparer.Ordinal),
                CaBundlePath = ca,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KactlException(ExitCodes.Usage, $"cannot open the image store {store ?? HostImages.DefaultStoreDirectory()}: {e.Message} (run as root, or give --store DIR or ${StoreVariable})", e);
        }
    }
}
