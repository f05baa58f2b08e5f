using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KataAgent.Testing.Registry;

public sealed partial class TestRegistry
{
    /// <summary>
    /// Pushes <paramref name="source"/> (a skopeo source such as <c>oci:DIR:tag</c>) as <c>repository:tag</c> with
    /// <c>skopeo copy</c>, as this registry's user, trusting its CA; <paramref name="format"/> <c>v2s2</c> converts
    /// to Docker's types. Returns the reference pushed.
    /// </summary>
    public async Task<string> PushAsync(string source, string repositoryAndTag, string? format = null)
    {
        string skopeo = HostTools.Require("skopeo", "skopeo");
        var args = new List<string> { "--insecure-policy", "copy", "--quiet" };
        if (format is not null)
            args.AddRange(["--format", format]);
        if (Options.Tls)
            args.AddRange(["--dest-cert-dir", Path.GetDirectoryName(CaBundlePath)!]);
        else
            args.Add("--dest-tls-verify=false");
        if (Credentials is { } credentials)
            args.AddRange(["--dest-creds", credentials.Username + ":" + credentials.Password]);
        args.Add(source);
        args.Add("docker://" + Reference(repositoryAndTag));
        await HostTools.RunAsync(skopeo, args);
        return Reference(repositoryAndTag);
    }

    /// <summary>PUTs a manifest or index as it is (the bytes are what the registry stores); returns its digest.</summary>
    public async Task<string> PutManifestAsync(string repository, string reference, string mediaType, byte[] body)
    {
        using var handler = new HttpClientHandler();
        if (CaBundlePath is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(CaBundlePath);
            handler.ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(certificate);
            };
        }
        using var http = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"{(Options.Tls ? "https" : "http")}://{Host}/v2/{repository}/manifests/{reference}")
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        request.Headers.Authorization = Options.Auth switch
        {
            TestRegistryAuth.Basic => new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Options.User + ":" + Options.Password))),
            TestRegistryAuth.Token => new AuthenticationHeaderValue("Bearer", TokenServer!.IssueToken([$"repository:{repository}:pull,push"])),
            _ => null,
        };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"PUT manifest {repository}:{reference}: {(int)response.StatusCode} {text}");
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
    }
}
