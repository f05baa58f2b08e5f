using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    private static X509Certificate2Collection LoadCaBundle(string path)
    {
        var bundle = new X509Certificate2Collection();
        try
        {
            bundle.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"CA bundle {path} cannot be read as PEM certificates: {e.Message}", e);
        }
        if (bundle.Count == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, $"CA bundle {path} holds no PEM certificate");
        return bundle;
    }

    /// <summary>
    /// Trusts a server certificate that chains to a CA of <see cref="RegistryClientOptions.CaBundlePath"/> (and
    /// nothing else), for the host it was asked for: the name check stays the platform's.
    /// </summary>
    private bool ValidateWithBundle(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
            return false;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trusted!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements.Skip(1))
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        return chain.Build(leaf);
    }
}
