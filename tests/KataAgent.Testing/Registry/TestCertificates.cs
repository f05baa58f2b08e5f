namespace KataAgent.Testing.Registry;

/// <summary>
/// A test CA and a server certificate it signs for one IP address, made with openssl (as an operator would),
/// in <paramref name="directory"/>: <c>ca/ca.crt</c> (alone in its directory, which skopeo takes as a cert dir: a
/// <c>.key</c> there would be read as a client key), <c>server.crt</c>, <c>server.key</c>.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string directory)
    {
        CaCertificate = Path.Combine(directory, "ca", "ca.crt");
        ServerCertificate = Path.Combine(directory, "server.crt");
        ServerKey = Path.Combine(directory, "server.key");
    }

    /// <summary>The CA's certificate (PEM): the bundle a client trusts.</summary>
    public string CaCertificate { get; }

    /// <summary>The server's certificate (PEM), for <c>IP:</c> the address given.</summary>
    public string ServerCertificate { get; }

    /// <summary>The server's private key (PEM).</summary>
    public string ServerKey { get; }

    /// <summary>Makes the CA and a server certificate whose subjectAltName is <paramref name="ipAddress"/>.</summary>
    public static async Task<TestCertificates> CreateAsync(string directory, string ipAddress)
    {
        string openssl = HostTools.Require("openssl", "openssl");
        Directory.CreateDirectory(Path.Combine(directory, "ca"));
        var made = new TestCertificates(directory);
        string caKey = Path.Combine(directory, "ca.key");
        string csr = Path.Combine(directory, "server.csr");
        string extensions = Path.Combine(directory, "server.ext");
        await HostTools.RunAsync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", made.CaCertificate,
            "-days", "2", "-subj", "/CN=KataAgent test registry CA"]);
        await HostTools.RunAsync(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", made.ServerKey, "-out", csr, "-subj", "/CN=" + ipAddress]);
        await File.WriteAllTextAsync(extensions,
            $"subjectAltName=IP:{ipAddress}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
        await HostTools.RunAsync(openssl, ["x509", "-req", "-in", csr, "-CA", made.CaCertificate, "-CAkey", caKey, "-CAcreateserial", "-CAserial", Path.Combine(directory, "ca.srl"),
            "-out", made.ServerCertificate, "-days", "2", "-extfile", extensions]);
        return made;
    }
}
