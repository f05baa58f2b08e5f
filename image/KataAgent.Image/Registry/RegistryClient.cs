using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

/// <summary>
/// A client of the OCI distribution API (reference vm-io-imagepull.md §3.1): the <c>/v2/</c> probe, Bearer and
/// Basic auth from the challenge on any request, manifests negotiated by Accept, platform selection from an index,
/// blobs verified against their digest while they stream, redirects without forwarding credentials to another
/// host, retries with backoff.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    /// <summary>How long a response's headers, or the next bytes of its body, may take before the attempt counts as failed.</summary>
    internal static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    private const int MaxRedirects = 10;
    private readonly HttpClient _http;
    private readonly X509Certificate2Collection? _trusted;
    private readonly ConcurrentDictionary<string, AuthChallenge> _challenges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, BearerToken> _tokens = new(StringComparer.Ordinal);

    /// <summary>A client with <paramref name="options"/>; it owns one HTTP handler for its lifetime.</summary>
    public RegistryClient(RegistryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Attempts < 1)
            throw new ImageException(ImageErrorKind.InvalidInput, $"RegistryClientOptions.Attempts is {options.Attempts}; it must be at least 1");
        if (options.ParallelLayers < 1)
            throw new ImageException(ImageErrorKind.InvalidInput, $"RegistryClientOptions.ParallelLayers is {options.ParallelLayers}; it must be at least 1");
        Options = options;
        if (options.CaBundlePath is not null)
            _trusted = LoadCaBundle(options.CaBundlePath);

        var handler = new SocketsHttpHandler
        {
            // Redirects are followed here, so that Authorization never goes to another host.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = true,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(options.ParallelLayers + 2, 4),
        };
        if (_trusted is not null)
            handler.SslOptions.RemoteCertificateValidationCallback = ValidateWithBundle;
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", options.UserAgent);
    }

    /// <summary>The options the client was made with.</summary>
    public RegistryClientOptions Options { get; }

    /// <summary>
    /// Checks that <paramref name="registry"/> speaks the distribution API (<c>GET /v2/</c>), authenticating as its
    /// challenge asks; <see cref="ImageErrorKind.Unauthorized"/> when it refuses the credentials.
    /// </summary>
    public async Task ProbeAsync(string registry, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        var target = new RequestTarget(registry, ApiHostOf(registry), Scope: null, What: $"the API check of registry {registry}");
        using var response = await SendAsync(target, "/v2/", configure: null, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();

    /// <summary>The host[:port] a registry name is served on.</summary>
    private static string ApiHostOf(string registry) => registry == ImageReference.DockerHub ? "registry-1.docker.io" : registry;

    /// <summary>http for the registries named in <see cref="RegistryClientOptions.PlainHttpRegistries"/>, https for the rest.</summary>
    private Uri BaseUri(string registry, string apiHost) =>
        new((IsPlain(registry) || IsPlain(apiHost) ? "http://" : "https://") + apiHost);

    private bool IsPlain(string hostAndPort) => Options.PlainHttpRegistries.Contains(hostAndPort);

    private static string Authority(Uri uri) => uri.IsDefaultPort ? uri.Host : uri.Host + ":" + uri.Port;

    /// <summary>What a request is for: the registry (for credentials and messages), its API host, the auth scope and a description naming the image.</summary>
    private sealed record RequestTarget(string Registry, string ApiHost, string? Scope, string What);

    private RequestTarget TargetOf(ImageReference reference, string what) =>
        new(reference.Registry, reference.ApiHost, $"repository:{reference.Repository}:pull", what);
}
