using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// A stand-in for qemu's QMP socket: sends a greeting, then hands every command it reads to a script that
/// writes whatever lines it likes back (replies, errors, events, in any order). One client at a time.
/// </summary>
public sealed class FakeQmpServer : IAsyncDisposable
{
    public const string Greeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly Func<JsonElement, Func<string, Task>, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serve;

    /// <param name="path">The unix socket to listen on.</param>
    /// <param name="script">Called with each command (qmp_capabilities included) and a line writer.</param>
    public FakeQmpServer(string path, Func<JsonElement, Func<string, Task>, Task> script, string greeting = Greeting)
    {
        _script = script;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _serve = ServeAsync(greeting);
    }

    /// <summary>Every command received, as raw JSON lines.</summary>
    public List<string> Received { get; } = [];

    /// <summary>A reply to <paramref name="command"/> with its id echoed.</summary>
    public static string Return(JsonElement command, string value = "{}") =>
        $"{{\"return\": {value}, \"id\": {command.GetProperty("id").GetRawText()}}}";

    /// <summary>An error reply to <paramref name="command"/>.</summary>
    public static string Error(JsonElement command, string errorClass, string description) =>
        $"{{\"error\": {{\"class\": \"{errorClass}\", \"desc\": \"{description}\"}}, \"id\": {command.GetProperty("id").GetRawText()}}}";

    /// <summary>An event line as qemu formats them.</summary>
    public static string Event(string name, string data = "{}") =>
        $"{{\"timestamp\": {{\"seconds\": 1700000000, \"microseconds\": 5}}, \"event\": \"{name}\", \"data\": {data}}}";

    /// <summary>Closes the connection from the server side (qemu quitting).</summary>
    public Socket? Client { get; private set; }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Client?.Dispose();
        _listener.Dispose();
        try
        {
            await _serve;
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }

    private async Task ServeAsync(string greeting)
    {
        using var client = await _listener.AcceptAsync(_stop.Token);
        Client = client;
        await using var stream = new NetworkStream(client);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var writeLock = new SemaphoreSlim(1, 1);
        async Task WriteLine(string line)
        {
            await writeLock.WaitAsync();
            try
            {
                // qemu ends its lines with CRLF.
                await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
            }
            finally
            {
                writeLock.Release();
            }
        }
        await WriteLine(greeting);
        while (await reader.ReadLineAsync(_stop.Token) is { } line)
        {
            lock (Received)
            {
                Received.Add(line);
            }
            using var command = JsonDocument.Parse(line);
            await _script(command.RootElement.Clone(), WriteLine);
        }
    }
}
