using KataAgent.Host.SharedFs;
using KataAgent.Image;
using KataAgent.Image.Config;
using KataAgent.Image.Layers;
using KataAgent.Image.Layout;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;

namespace KataAgent.Host.Images;

/// <summary>
/// OCI images on the host, for containers in sandboxes: pull from registries into a content store (blobs by digest,
/// shared by every image, safe under concurrent pulls from several processes), list, remove and prune them, load OCI
/// layouts for machines without a registry, and unpack one into a rootfs directory with the process its config gives
/// (<see cref="PrepareRootfsAsync(string, string, ImageProcessOverrides?, IProgress{PullProgress}?, CancellationToken)"/>;
/// <see cref="Sandboxes.Sandbox.CreateContainerFromImageAsync(string, HostImages, string, ImageContainerOptions?, Containers.ContainerOptions?, CancellationToken)"/>
/// does that inside a sandbox's state). Every failure of the image library is an <see cref="ImageException"/> whose
/// <see cref="ImageException.Kind"/> says what went wrong and whose message names the image, registry or path.
/// </summary>
/// <example>
/// <code>
/// using var images = new HostImages();
/// var image = await images.PullAsync("docker.io/library/busybox:latest", progress: new Progress&lt;PullProgress&gt;(Console.WriteLine));
/// var prepared = await images.PrepareRootfsAsync(image.Name, "/srv/c1/rootfs", new ImageProcessOverrides { Args = ["echo", "hi"] });
/// </code>
/// </example>
public sealed class HostImages : IDisposable
{
    /// <summary>The store's directory when the process runs as root (and <see cref="HostImagesOptions.StoreDirectory"/> names none).</summary>
    public const string RootStoreDirectory = "/var/lib/kataagent/images";

    private readonly HostImagesOptions _options;
    private readonly Lock _registryLock = new();
    private RegistryClient? _registry;
    private DockerConfigCredentials? _dockerConfig;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HelperAnswer> _fromHelpers = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Images kept in <see cref="HostImagesOptions.StoreDirectory"/> (created if absent), reached as <paramref name="options"/> say.</summary>
    /// <exception cref="ImageException">The store directory cannot be created or is not a store.</exception>
    public HostImages(HostImagesOptions? options = null)
    {
        _options = options ?? new HostImagesOptions();
        StoreDirectory = Path.GetFullPath(_options.StoreDirectory ?? DefaultStoreDirectory());
        Store = new ContentStore(StoreDirectory);
    }

    /// <summary>The content store's directory.</summary>
    public string StoreDirectory { get; }

    /// <summary>The content store (for what this class does not wrap: opening blobs, tagging).</summary>
    public ContentStore Store { get; }

    /// <summary>The options the images were made with.</summary>
    public HostImagesOptions Options => _options;

    /// <summary>
    /// <see cref="RootStoreDirectory"/> for root; otherwise <c>$XDG_DATA_HOME/kataagent/images</c>, with
    /// <c>~/.local/share</c> for an unset or relative <c>XDG_DATA_HOME</c> (the XDG base directory rule).
    /// </summary>
    public static string DefaultStoreDirectory() =>
        DefaultStoreDirectory(Environment.IsPrivilegedProcess, Environment.GetEnvironmentVariable("XDG_DATA_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The rule of <see cref="DefaultStoreDirectory()"/> with its inputs given.</summary>
    internal static string DefaultStoreDirectory(bool privileged, string? xdgDataHome, string home)
    {
        if (privileged)
        {
            return RootStoreDirectory;
        }
        string data = xdgDataHome is { Length: > 0 } && Path.IsPathRooted(xdgDataHome)
            ? xdgDataHome
            : Path.Combine(home, ".local", "share");
        return Path.Combine(data, "kataagent", "images");
    }

    /// <summary>
    /// Pulls <paramref name="reference"/> (docker's syntax: <c>busybox</c> is <c>docker.io/library/busybox:latest</c>)
    /// for <paramref name="platform"/> (default <see cref="HostImagesOptions.Platform"/>) into the store: layers already
    /// stored are not downloaded again, partial ones resume. <paramref name="progress"/> hears of each layer's phase
    /// and bytes, from the download tasks' threads.
    /// </summary>
    /// <exception cref="ImageException">A malformed reference or docker config file (InvalidInput), no such image or platform (NotFound),
    /// refused credentials (Unauthorized), content that does not match its digest (DigestMismatch), an unreachable
    /// registry (Unavailable), an unsupported media type (Unsupported).</exception>
    public async Task<StoredImage> PullAsync(string reference, Platform? platform = null, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var parsed = ImageReference.Parse(reference);
        var puller = new ImagePuller(Registry(), Store);
        await AskCredentialHelperAsync(parsed.Registry, cancellationToken).ConfigureAwait(false);
        return await puller.PullAsync(parsed, platform ?? _options.Platform, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The stored image named <paramref name="reference"/>, pulled first as <paramref name="policy"/> says: when it is
    /// not stored (<see cref="PullPolicy.Missing"/>), every time (<see cref="PullPolicy.Always"/>), or never
    /// (<see cref="PullPolicy.Never"/>: an image not stored is <see cref="ImageErrorKind.NotFound"/>).
    /// </summary>
    /// <exception cref="ImageException">As <see cref="PullAsync"/>; NotFound naming the store with <see cref="PullPolicy.Never"/>.</exception>
    public async Task<StoredImage> EnsureAsync(string reference, PullPolicy policy, Platform? platform = null, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (policy != PullPolicy.Always && Store.FindImage(reference) is { } stored)
        {
            return stored;
        }
        if (policy == PullPolicy.Never)
        {
            throw new ImageException(ImageErrorKind.NotFound, $"image '{reference}' is not in the store {StoreDirectory} and the pull policy is never");
        }
        return await PullAsync(reference, platform, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The stored image named <paramref name="nameOrId"/> (a reference, a manifest digest or a unique prefix of its hex), or null.</summary>
    public Task<StoredImage?> FindAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Store.FindImage(nameOrId));
    }

    /// <summary>The stored images, by name.</summary>
    public Task<IReadOnlyList<StoredImage>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Store.ListImages());
    }

    /// <summary>
    /// Removes the image named <paramref name="nameOrId"/> from the store's records (a reference, a manifest digest or
    /// a unique prefix of its hex); false when there is none. Its blobs stay, shared or not, until <see cref="PruneAsync"/>.
    /// </summary>
    public Task<bool> RemoveAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Store.RemoveImage(nameOrId));
    }

    /// <summary>Deletes every blob no stored image reaches, and stale partial downloads; returns the bytes freed.</summary>
    public Task<long> PruneAsync(CancellationToken cancellationToken = default) => Store.PruneAsync(cancellationToken);

    /// <summary>
    /// Loads the images of an OCI image layout, a directory (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/</c>) or a tar
    /// archive of one (<c>skopeo copy … oci-archive:FILE</c>), for <paramref name="platform"/> (default
    /// <see cref="HostImagesOptions.Platform"/>), every blob verified; each is stored under its
    /// <c>org.opencontainers.image.ref.name</c> annotation, or under <paramref name="name"/> when given.
    /// </summary>
    /// <exception cref="ImageException">Not a layout (InvalidInput), a blob missing (NotFound) or not matching its digest (DigestMismatch).</exception>
    public Task<IReadOnlyList<StoredImage>> LoadAsync(string path, string? name = null, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return OciLayoutImporter.ImportAsync(Path.GetFullPath(path), Store, name, platform ?? _options.Platform, cancellationToken);
    }

    /// <summary>
    /// Unpacks the stored image <paramref name="image"/> (a reference, a manifest digest or a unique prefix of its hex)
    /// into <paramref name="directory"/>, which must be absent or empty, and builds the container's process from its
    /// config with <paramref name="overrides"/>. Layers are applied base first with their whiteouts, nothing may land
    /// outside the directory, and each layer's content is checked against the config's diff_id;
    /// <paramref name="progress"/> hears <see cref="PullPhase.Unpacking"/> and <see cref="PullPhase.Unpacked"/> per layer.
    /// On any failure the directory is gone. The caller owns the directory afterwards.
    /// </summary>
    /// <exception cref="ImageException">No such stored image (NotFound), a layer that would escape (PathEscape), a user
    /// the image's /etc/passwd lacks or a relative working directory (InvalidInput), a layer not matching its diff_id (DigestMismatch).</exception>
    public async Task<PreparedRootfs> PrepareRootfsAsync(string image, string directory, ImageProcessOverrides? overrides = null, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        var stored = Store.FindImage(image)
            ?? throw new ImageException(ImageErrorKind.NotFound, $"image '{image}' is not in the store {StoreDirectory} (pull or load it first)");
        ArgumentException.ThrowIfNullOrEmpty(directory);
        overrides ??= new ImageProcessOverrides();
        if (overrides.WorkingDirectory is { } cwd && !cwd.StartsWith('/'))
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"the working directory '{cwd}' for image '{stored.Name}' is not an absolute path");
        }
        string full = Path.GetFullPath(directory);
        var unpacked = await LayerUnpacker.UnpackAsync(Store, stored, full, progress, cancellationToken).ConfigureAwait(false);
        try
        {
            ImageProcess process;
            try
            {
                process = ImageProcessBuilder.Build(stored.Config, full, overrides.Entrypoint, overrides.Args, overrides.Env, overrides.User);
            }
            catch (ImageException e)
            {
                throw new ImageException(e.Kind, $"image '{stored.Name}': {e.Message}", e);
            }
            if (overrides.WorkingDirectory is { } workingDirectory)
            {
                process = process with { Cwd = workingDirectory };
            }
            return new PreparedRootfs(full, process, stored, unpacked.Warnings);
        }
        catch
        {
            DeleteRootfs(full);
            throw;
        }
    }

    /// <summary>
    /// Deletes an unpacked rootfs: every mount below it detached first and no mount crossed, no symlink followed (an
    /// image's links point wherever it likes: the delete must never reach the host's files through them).
    /// </summary>
    /// <exception cref="IOException">A file could not be deleted.</exception>
    /// <exception cref="ShareException">Something below would not unmount.</exception>
    public static void DeleteRootfs(string directory) => StateDirectory.Delete(directory);

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_registryLock)
        {
            _disposed = true;
            _registry?.Dispose();
            _registry = null;
        }
    }

    /// <summary>One registry client for the object's life: its HTTP handler pools connections and caches tokens.</summary>
    private RegistryClient Registry()
    {
        lock (_registryLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Read when the first pull needs it, so a malformed file fails that pull (naming the file), not list or rmi.
            _dockerConfig ??= DockerConfigCredentials.Load(_options.DockerConfigPath, DockerCredentialHelperRunner.Instance);
            return _registry ??= new RegistryClient(new RegistryClientOptions
            {
                Credentials = CredentialsFor,
                PlainHttpRegistries = _options.PlainHttpRegistries,
                CaBundlePath = _options.CaBundlePath,
                ParallelLayers = _options.ParallelLayers,
            });
        }
    }

    /// <summary>
    /// Runs the credential helper docker's config names for <paramref name="registry"/> (if any, and if
    /// <see cref="HostImagesOptions.Credentials"/> has nothing), before the pull: the registry client asks for
    /// credentials synchronously, a helper is a process. Asked again on every pull, as docker does, since helpers
    /// hand out short-lived tokens.
    /// </summary>
    private async Task AskCredentialHelperAsync(string registry, CancellationToken cancellationToken)
    {
        var config = _dockerConfig!;
        if (config.CredentialHelperFor(registry) is null || _options.Credentials?.Invoke(registry) is not null)
        {
            return;
        }
        var credentials = await config.FindAsync(registry, cancellationToken).ConfigureAwait(false);
        _fromHelpers[registry] = new HelperAnswer(credentials);
    }

    private RegistryCredentials? CredentialsFor(string registry)
    {
        if (_options.Credentials?.Invoke(registry) is { } given)
        {
            return given;
        }
        // A registry a helper serves takes its credentials from the helper only (null when it had none), as in docker.
        if (_dockerConfig?.CredentialHelperFor(registry) is not null)
        {
            return _fromHelpers.TryGetValue(registry, out var answer) ? answer.Credentials : null;
        }
        return _dockerConfig?.Find(registry);
    }

    /// <summary>What a helper answered (a record, so "no credentials" can be stored in the dictionary).</summary>
    private sealed record HelperAnswer(RegistryCredentials? Credentials);
}
