using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.RuntimeOptions;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Config;
using KataAgent.Shim.Tasks;
using KataAgent.Testing;

namespace KataAgent.VmTests.Shim;

/// <summary>
/// A task service served in-process over a real ttrpc connection (a unix socket, a <see cref="TtrpcServer"/> and a
/// <see cref="TtrpcClient"/>), configured by a configuration file named in the runtime options as containerd's CRI
/// passes it, with bundles and FIFOs made here as containerd makes them: a config.json, and the rootfs as a bind
/// mount of out/rootfs from the "snapshotter".
/// </summary>
internal sealed class ShimHarness : IAsyncDisposable
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);

    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly TtrpcServer _server = new();
    private TtrpcClient _client = null!;
    private Task _accepting = Task.CompletedTask;

    private ShimHarness(string @namespace, JsonObject? settings)
    {
        Namespace = @namespace;
        StateRoot = Temp.CreateDirectory("st");
        ConfigPath = Temp.File("configuration.json");
        var configuration = new JsonObject
        {
            ["kernel"] = RepoPaths.Kernel,
            ["initrd"] = RepoPaths.Initrd,
            ["stateRoot"] = StateRoot,
            ["sizing"] = new JsonObject { ["baseMemoryMiB"] = 256, ["defaultMemoryMiB"] = 256, ["maxCpus"] = 2, ["maxMemoryMiB"] = 2048 },
        };
        foreach (var (key, value) in settings ?? [])
        {
            configuration[key] = value?.DeepClone();
        }
        File.WriteAllText(ConfigPath, configuration.ToJsonString());
        Service = new TaskService(new ShimArguments { Namespace = @namespace, Id = "shim", Bundle = Temp.Path }, Events, Lifetime);
        Service.Register(_server);
    }

    public TempDirectory Temp { get; } = new();

    public string Namespace { get; }

    public string StateRoot { get; }

    public string ConfigPath { get; }

    public RecordingEvents Events { get; } = new();

    public ExitRecorder Lifetime { get; } = new();

    internal TaskService Service { get; }

    /// <summary>The runtime options containerd gives Create: the configuration's path.</summary>
    public Any RuntimeOptions => new() { TypeUrl = ShimConfigurationLoader.RuntimeOptionsTypeUrl, Value = new Options { ConfigPath = ConfigPath }.ToByteString() };

    /// <summary>A harness whose configuration has <paramref name="settings"/> over the defaults (e.g. rootfsMode).</summary>
    public static async Task<ShimHarness> StartAsync(string @namespace, JsonObject? settings = null)
    {
        var harness = new ShimHarness(@namespace, settings);
        string socket = harness.Temp.File("shim.sock");
        harness._listener.Bind(new UnixDomainSocketEndPoint(socket));
        harness._listener.Listen(8);
        harness._accepting = harness.AcceptAsync();
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        harness._client = new TtrpcClient(new NetworkStream(client, ownsSocket: true));
        return harness;
    }

    public Task<TResponse> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, TimeSpan? timeout = null)
        where TResponse : IMessage<TResponse> =>
        _client.CallAsync(TaskService.ServiceName, method, request, parser, timeout ?? Limit);

    public Task<Empty> CallAsync(string method, IMessage request) => CallAsync(method, request, Empty.Parser);

    /// <summary>A bundle directory with <paramref name="config"/> as its config.json (and an empty rootfs/, as containerd makes it).</summary>
    public string Bundle(string id, JsonObject config)
    {
        string bundle = Temp.CreateDirectory("shim-bundle-" + id);
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    /// <summary>The snapshotter's mount for a container: out/rootfs bound read-only (writes would land in the repo).</summary>
    public static KataAgent.Protocols.Containerd.Types.Mount RootfsMount() =>
        new() { Type = "bind", Source = Path.Combine(RepoPaths.Root, "out", "rootfs"), Options = { "rbind", "ro" } };

    /// <summary>FIFOs as a containerd client makes them: <c>dir/&lt;id&gt;-stdin|stdout|stderr</c>.</summary>
    public (string Stdin, string Stdout, string Stderr) Fifos(string id)
    {
        string dir = Temp.CreateDirectory("fifo-" + id);
        var paths = (Path.Combine(dir, id + "-stdin"), Path.Combine(dir, id + "-stdout"), Path.Combine(dir, id + "-stderr"));
        HostTools.Run("mkfifo", paths.Item1, paths.Item2, paths.Item3);
        return paths;
    }

    /// <summary>Reads a FIFO to its end as a client does (the open completes once the shim has its end open).</summary>
    public static Task<string> ReadFifoAsync(string path) => Task.Run(async () =>
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    });

    /// <summary>An OCI config.json for <paramref name="args"/>, as containerd writes one (relative rootfs, the usual mounts and namespaces).</summary>
    public static JsonObject Config(IEnumerable<string> args, IReadOnlyDictionary<string, string>? annotations = null, bool terminal = false, string hostname = "container")
    {
        var annotationObject = new JsonObject();
        foreach (var (key, value) in annotations ?? new Dictionary<string, string>())
        {
            annotationObject[key] = value;
        }
        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = terminal,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]),
                ["env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"),
                ["cwd"] = "/",
            },
            ["root"] = new JsonObject { ["path"] = "rootfs" },
            ["hostname"] = hostname,
            ["mounts"] = new JsonArray(
                new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
                new JsonObject { ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("nosuid", "strictatime", "mode=755", "size=65536k") },
                new JsonObject { ["destination"] = "/dev/pts", ["type"] = "devpts", ["source"] = "devpts", ["options"] = new JsonArray("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620") },
                new JsonObject { ["destination"] = "/sys", ["type"] = "sysfs", ["source"] = "sysfs", ["options"] = new JsonArray("nosuid", "noexec", "nodev", "ro") },
                new JsonObject { ["destination"] = "/sys/fs/cgroup", ["type"] = "cgroup", ["source"] = "cgroup", ["options"] = new JsonArray("nosuid", "noexec", "nodev", "relatime", "ro") }),
            ["annotations"] = annotationObject,
            ["linux"] = new JsonObject
            {
                ["namespaces"] = new JsonArray(
                    new JsonObject { ["type"] = "pid" },
                    new JsonObject { ["type"] = "ipc" },
                    new JsonObject { ["type"] = "uts" },
                    new JsonObject { ["type"] = "mount" }),
            },
        };
    }

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        await _client.DisposeAsync();
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        Temp.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var connection = await _listener.AcceptAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                await using var stream = new NetworkStream(connection, ownsSocket: true);
                try
                {
                    await _server.ServeConnectionAsync(stream, cancellationToken: _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or TtrpcProtocolException)
                {
                }
            });
        }
    }
}
