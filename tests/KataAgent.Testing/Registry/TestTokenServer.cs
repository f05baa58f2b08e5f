using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace KataAgent.Testing.Registry;

/// <summary>
/// The token server of a <see cref="TestRegistry"/> with token auth, on a loopback port of the test process: it
/// checks the Basic credentials of a <c>GET /token?service=…&amp;scope=…</c> and answers a JWT that docker-registry
/// 2.8 verifies offline (its <c>auth: token:</c> settings). What distribution 2.8's <c>registry/auth/token</c> wants:
/// a header with <c>alg</c> RS256 and <c>x5c</c> (the signing certificate, which must chain to a certificate of the
/// registry's <c>rootcertbundle</c>: here it is that certificate), and claims <c>iss</c> equal to its <c>issuer</c>,
/// <c>aud</c> (a string) equal to its <c>service</c>, <c>exp</c>/<c>nbf</c> around now (60 s leeway), and
/// <c>access</c> entries naming the repository and actions the request needs.
/// </summary>
public sealed class TestTokenServer : IDisposable
{
    /// <summary>The registry's <c>issuer</c>.</summary>
    public const string Issuer = "kataagent-test-token-issuer";

    /// <summary>The registry's <c>service</c>.</summary>
    public const string Service = "kataagent-test-registry";

    private readonly HttpListener _listener;
    private readonly RSA _key;
    private readonly X509Certificate2 _certificate;
    private readonly string _user;
    private readonly string _password;
    private readonly Task _serving;
    private int _issued;
    private int _refused;

    /// <summary>Starts serving on a free loopback port; writes the signing certificate to <paramref name="rootCertBundle"/>.</summary>
    public TestTokenServer(string user, string password, string rootCertBundle)
    {
        _user = user;
        _password = password;
        _key = RSA.Create(2048);
        var request = new CertificateRequest("CN=KataAgent test token issuer", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(2));
        File.WriteAllText(rootCertBundle, _certificate.ExportCertificatePem() + "\n");

        (_listener, Port) = Listen();
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The loopback port served on.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the name a client lists among its plain-HTTP hosts.</summary>
    public string Authority => $"127.0.0.1:{Port}";

    /// <summary>The realm the registry's challenge names.</summary>
    public string Realm => $"http://{Authority}/token";

    /// <summary>Tokens issued so far.</summary>
    public int Issued => Volatile.Read(ref _issued);

    /// <summary>Requests refused (wrong or missing credentials) so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>A token for <paramref name="scopes"/> as the server would issue it (for the harness's own pushes).</summary>
    public string IssueToken(IEnumerable<string> scopes) => Sign(_user, scopes);

    /// <summary>Stops serving.</summary>
    public void Dispose()
    {
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _certificate.Dispose();
        _key.Dispose();
    }

    private static (HttpListener, int) Listen()
    {
        for (int attempt = 0; ; attempt++)
        {
            // A port the kernel just handed out and took back; another process may take it first, so retry.
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return (listener, port);
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                Answer(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
                // The client went away; the next one is served.
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        if (context.Request.Url?.AbsolutePath != "/token")
        {
            response.StatusCode = 404;
            response.Close();
            return;
        }
        if (!Authorized(context.Request.Headers["Authorization"]))
        {
            Interlocked.Increment(ref _refused);
            response.StatusCode = 401;
            response.AddHeader("WWW-Authenticate", "Basic realm=\"kataagent-test-token\"");
            response.Close();
            return;
        }
        var query = context.Request.QueryString;
        if (query["service"] != Service)
        {
            response.StatusCode = 400;
            response.Close();
            return;
        }
        var token = Sign(_user, query.GetValues("scope") ?? []);
        Interlocked.Increment(ref _issued);
        var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("token", token);
            json.WriteString("access_token", token);
            json.WriteNumber("expires_in", 300);
            json.WriteString("issued_at", DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));
            json.WriteEndObject();
        }
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.Close(body.ToArray(), willBlock: true);
    }

    private bool Authorized(string? header)
    {
        if (header is null || !header.StartsWith("Basic ", StringComparison.Ordinal))
            return false;
        try
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
            return pair == _user + ":" + _password;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A compact JWS: base64url(header).base64url(claims).base64url(RS256 signature).</summary>
    private string Sign(string subject, IEnumerable<string> scopes)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Json(json =>
        {
            json.WriteString("typ", "JWT");
            json.WriteString("alg", "RS256");
            json.WriteStartArray("x5c");
            json.WriteStringValue(Convert.ToBase64String(_certificate.RawData));
            json.WriteEndArray();
        });
        var claims = Json(json =>
        {
            json.WriteString("iss", Issuer);
            json.WriteString("sub", subject);
            json.WriteString("aud", Service);
            json.WriteNumber("exp", now + 300);
            json.WriteNumber("nbf", now - 10);
            json.WriteNumber("iat", now);
            json.WriteString("jti", Guid.NewGuid().ToString("N"));
            json.WriteStartArray("access");
            foreach (var scope in scopes)
            {
                // repository:NAME:ACTIONS, where NAME may hold ':' only before a port, which repository names never have.
                var parts = scope.Split(':');
                if (parts.Length != 3)
                    continue;
                json.WriteStartObject();
                json.WriteString("type", parts[0]);
                json.WriteString("name", parts[1]);
                json.WriteStartArray("actions");
                foreach (var action in parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries))
                    json.WriteStringValue(action);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
        });
        var signingInput = Base64Url(header) + "." + Base64Url(claims);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
