using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using KataAgent.Image.Registry;

namespace KataAgent.Testing.Registry;

/// <summary>
/// Debian's <c>docker-registry serve</c> with a config of its own, in a network namespace this fixture creates.
/// The test process reaches it over a veth pair: one end in the host's namespace with the first address of a
/// random <c>10.213.x.y/30</c>, the other (<c>eth0</c>) in the registry's namespace with the second, where the
/// registry listens on port 5000. A veth rather than <c>ip netns exec</c> for the client, because the client is
/// this very process (the library under test), and a namespace switch of one thread does not carry across the
/// thread pool. The pair goes away with the namespace. HTTP or HTTPS (a test CA made by openssl, the server
/// certificate for the address); no auth, htpasswd Basic auth (bcrypt by htpasswd) or token auth against a
/// <see cref="TestTokenServer"/> on loopback. <see cref="StopAsync"/> kills the registry (storage kept) and
/// <see cref="RestartAsync"/> starts it again on the same address and storage. Disposal removes the process, the
/// namespace, the token server and every file.
/// </summary>
public sealed partial class TestRegistry : IAsyncDisposable
{
    /// <summary>The port the registry listens on inside its namespace.</summary>
    public const int Port = 5000;

    private readonly TempDirectory _directory;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private TestRegistry(TestRegistryOptions options, TempDirectory directory, string netns, string hostVeth, string hostAddress, string registryAddress)
    {
        Options = options;
        _directory = directory;
        Netns = netns;
        HostVeth = hostVeth;
        HostAddress = hostAddress;
        RegistryAddress = registryAddress;
        StorageDirectory = directory.CreateDirectory("storage");
        ConfigPath = directory.File("config.yml");
    }

    /// <summary>What kind of registry this is.</summary>
    public TestRegistryOptions Options { get; }

    /// <summary>The registry's network namespace (an <c>ip netns</c> name).</summary>
    public string Netns { get; }

    /// <summary>The veth end in the host's namespace.</summary>
    public string HostVeth { get; }

    /// <summary>The host end's address.</summary>
    public string HostAddress { get; }

    /// <summary>The address the registry listens on, in its namespace.</summary>
    public string RegistryAddress { get; }

    /// <summary>The registry's name in references: <c>address:5000</c>.</summary>
    public string Host => $"{RegistryAddress}:{Port}";

    /// <summary>Its filesystem storage (<c>docker/registry/v2/…</c> under it).</summary>
    public string StorageDirectory { get; }

    /// <summary>The config file it runs with.</summary>
    public string ConfigPath { get; }

    /// <summary>The test CA's certificate with <see cref="TestRegistryOptions.Tls"/>, else null.</summary>
    public string? CaBundlePath => Certificates?.CaCertificate;

    /// <summary>The token server with <see cref="TestRegistryAuth.Token"/>, else null.</summary>
    public TestTokenServer? TokenServer { get; private set; }

    /// <summary>The user's credentials with auth, else null.</summary>
    public RegistryCredentials? Credentials =>
        Options.Auth == TestRegistryAuth.None ? null : new RegistryCredentials(Options.User, Options.Password);

    /// <summary>What the registry wrote to stdout and stderr (its access log and errors) so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    private TestCertificates? Certificates { get; set; }

    /// <summary>Makes the namespace and the veth, the certificates, htpasswd file or token server, and starts the registry.</summary>
    public static async Task<TestRegistry> StartAsync(TestRegistryOptions? options = null)
    {
        options ??= new TestRegistryOptions();
        HostTools.Require("docker-registry", "docker-registry");
        var directory = new TempDirectory();
        TestRegistry? registry = null;
        try
        {
            registry = CreateNetwork(options, directory);
            await registry.ConfigureAsync();
            await registry.LaunchAsync();
            return registry;
        }
        catch
        {
            if (registry is not null)
                await registry.DisposeAsync();
            else
                directory.Dispose();
            throw;
        }
    }

    /// <summary><c>Host/</c><paramref name="repositoryAndTag"/>.</summary>
    public string Reference(string repositoryAndTag) => Host + "/" + repositoryAndTag;

    /// <summary>
    /// Options for a <see cref="RegistryClient"/> that reaches this registry: plain HTTP named for it (and the
    /// token server) unless TLS, the test CA when <paramref name="trustCa"/>, and <paramref name="credentials"/>
    /// (this registry's own user when not given).
    /// </summary>
    public RegistryClientOptions ClientOptions(bool trustCa = true, RegistryCredentials? credentials = null, bool anonymous = false)
    {
        var plain = new HashSet<string>(StringComparer.Ordinal);
        if (!Options.Tls)
            plain.Add(Host);
        if (TokenServer is not null)
            plain.Add(TokenServer.Authority);
        var use = anonymous ? null : credentials ?? Credentials;
        return new RegistryClientOptions
        {
            PlainHttpRegistries = plain,
            CaBundlePath = trustCa ? CaBundlePath : null,
            Credentials = name => name == Host ? use : null,
            Attempts = 3,
            FirstBackoff = TimeSpan.FromMilliseconds(100),
        };
    }

    /// <summary>The file holding a blob in the registry's storage (to corrupt it).</summary>
    public string BlobDataPath(string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(StorageDirectory, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    /// <summary>Kills the registry (SIGKILL) and waits for it; its storage stays.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
            return;
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>Starts the registry again with the same config, address and storage.</summary>
    public Task RestartAsync() => _process is null ? LaunchAsync() : throw new InvalidOperationException("the registry is running");

    /// <summary>Kills the registry, deletes the namespace (and with it the veth pair), stops the token server, removes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        TokenServer?.Dispose();
        try
        {
            HostTools.Run("ip", "netns", "delete", Netns);
        }
        catch (InvalidOperationException)
        {
            // Never made, or already gone.
        }
        _directory.Dispose();
    }

    private async Task LaunchAsync()
    {
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // ip netns exec execs the registry in place: the pid is the registry's.
        foreach (var arg in new[] { "netns", "exec", Netns, "docker-registry", "serve", ConfigPath })
            info.ArgumentList.Add(arg);
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"docker-registry exited with {process.ExitCode} at start: {Log}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(RegistryAddress, Port).WaitAsync(TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"docker-registry did not listen on {Host} within 30 s: {Log}");
                await Task.Delay(50);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_log)
            _log.AppendLine(line);
    }
}
