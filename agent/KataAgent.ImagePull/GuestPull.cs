using System.Text.Json;
using KataAgent.Image;
using KataAgent.Image.Config;
using KataAgent.Image.Layers;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;
using KataAgent.Protocols.Guest.ImagePull;

namespace KataAgent.ImagePull;

/// <summary>
/// One guest pull: read the request, pull into the guest's content store, unpack into the rootfs directory, build
/// the process from the image's config, write the result. Every failure is written once as JSON with the image
/// library's error kind; the agent turns it into a status. Nothing but the result goes to stdout; stderr carries
/// what happened, for the agent's log.
/// </summary>
internal static class GuestPull
{
    /// <summary>Reads the request from <paramref name="input"/>, pulls, writes the result to <paramref name="output"/>; returns the exit code.</summary>
    public static async Task<int> RunAsync(Stream input, Stream output, TextWriter log, CancellationToken cancellationToken)
    {
        GuestPullRequest request;
        try
        {
            request = await GuestPullRequestReader.ReadAsync(input, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            await log.WriteLineAsync($"kata-image-pull: bad request: {e.Message}").ConfigureAwait(false);
            await WriteAsync(output, new GuestPullResult { Error = new GuestPullError(e.Kind.ToString(), e.Message) }, cancellationToken).ConfigureAwait(false);
            return GuestPullHelper.BadRequest;
        }
        try
        {
            var result = await PullAsync(request, log, cancellationToken).ConfigureAwait(false);
            await WriteAsync(output, result, cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (ImageException e)
        {
            await log.WriteLineAsync($"kata-image-pull: {request.Image}: {e.Kind}: {e.Message}").ConfigureAwait(false);
            await WriteAsync(output, new GuestPullResult { Error = new GuestPullError(e.Kind.ToString(), e.Message) }, cancellationToken).ConfigureAwait(false);
            return GuestPullHelper.Failed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The guest's storage (full, read-only, gone), not the image: the agent reports it as its own failure.
            await log.WriteLineAsync($"kata-image-pull: {request.Image}: {e}").ConfigureAwait(false);
            await WriteAsync(output, new GuestPullResult { Error = new GuestPullError(InternalKind, $"{request.Image}: {e.Message}") }, cancellationToken).ConfigureAwait(false);
            return GuestPullHelper.Failed;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug of ours, not the image's: an error the agent can report beats an abort with only a core dump.
            await log.WriteLineAsync($"kata-image-pull: {request.Image}: {e}").ConfigureAwait(false);
            await WriteAsync(output, new GuestPullResult { Error = new GuestPullError(InternalKind, $"{request.Image}: {e.GetType().Name}: {e.Message}") }, cancellationToken).ConfigureAwait(false);
            return GuestPullHelper.Failed;
        }
    }

    /// <summary>The kind written for a failure that is not the image library's.</summary>
    internal const string InternalKind = "Internal";

    private static async Task<GuestPullResult> PullAsync(GuestPullRequest request, TextWriter log, CancellationToken cancellationToken)
    {
        var reference = ImageReference.Parse(request.Image);
        var platform = string.IsNullOrEmpty(request.Platform) ? Platform.Current : Platform.Parse(request.Platform);
        Directory.CreateDirectory(request.StoreDirectory);
        string? caFile = null;
        try
        {
            if (!string.IsNullOrEmpty(request.CaPem))
            {
                // RegistryClient takes a file; it lives on the guest storage for the pull's length only.
                caFile = Path.Combine(request.StoreDirectory, $".ca-{Environment.ProcessId}.pem");
                await File.WriteAllTextAsync(caFile, request.CaPem, cancellationToken).ConfigureAwait(false);
            }
            var credentials = await CredentialsAsync(request, reference, cancellationToken).ConfigureAwait(false);
            var options = new RegistryClientOptions
            {
                Credentials = registry => registry == reference.Registry ? credentials : null,
                PlainHttpRegistries = request.PlainHttpRegistries.ToHashSet(StringComparer.Ordinal),
                CaBundlePath = caFile ?? (File.Exists(GuestPullHelper.CaBundle) ? GuestPullHelper.CaBundle : null),
                UserAgent = "kata-image-pull/0.1",
            };
            using var registry = new RegistryClient(options);
            var store = new ContentStore(request.StoreDirectory);
            await log.WriteLineAsync($"kata-image-pull: pulling {reference} for {platform}").ConfigureAwait(false);
            var image = await new ImagePuller(registry, store).PullAsync(reference, platform, null, cancellationToken).ConfigureAwait(false);
            await log.WriteLineAsync($"kata-image-pull: {reference} is {image.ManifestDigest}: {image.Manifest.Layers.Count} layers, unpacking into {request.Rootfs}").ConfigureAwait(false);
            await LayerUnpacker.UnpackAsync(store, image, request.Rootfs, null, cancellationToken).ConfigureAwait(false);
            var process = ImageProcessBuilder.Build(image.Config, request.Rootfs, request.Entrypoint, request.Args, request.Env, string.IsNullOrEmpty(request.User) ? null : request.User);
            return new GuestPullResult
            {
                ManifestDigest = image.ManifestDigest.ToString(),
                Process = new GuestPullProcess(process.Args, process.Env, process.Cwd, process.Uid, process.Gid, process.AdditionalGids),
            };
        }
        finally
        {
            if (caFile is not null)
            {
                File.Delete(caFile);
            }
        }
    }

    /// <summary>
    /// The request's credentials, else those its <see cref="GuestPullRequest.RegistryAuthFile"/> holds for the
    /// image's registry (its <c>auths</c>; no credential helper runs in the guest), else none. A named file that
    /// is missing or malformed fails the pull naming it: an anonymous pull would fail later with a vaguer error.
    /// </summary>
    internal static async Task<RegistryCredentials?> CredentialsAsync(GuestPullRequest request, ImageReference reference, CancellationToken cancellationToken)
    {
        if (request.Credentials is { } given)
        {
            return new RegistryCredentials(given.Username, given.Password, string.IsNullOrEmpty(given.IdentityToken) ? null : given.IdentityToken);
        }
        if (request.RegistryAuthFile is not { } file)
        {
            return null;
        }
        if (!File.Exists(file))
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"registryAuthFile {file} (agent.image_registry_auth) does not exist in the guest");
        }
        return await DockerConfigCredentials.Load(file).FindAsync(reference.Registry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteAsync(Stream output, GuestPullResult result, CancellationToken cancellationToken)
    {
        await JsonSerializer.SerializeAsync(output, result, GuestPullJsonContext.Default.GuestPullResult, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
