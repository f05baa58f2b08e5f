using System.Diagnostics;
using System.Text.Json;

namespace KataAgent.Testing.Containerd;

/// <summary>
/// <c>ctr events</c> running in the background against a private containerd: every event of one namespace as
/// containerd accepted it from the shim (topic and payload as JSON), in the order containerd published them.
/// </summary>
public sealed class CtrEventStream : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<CtrEvent> _events = [];
    private readonly Task _reader;
    private readonly string _namespace;

    private CtrEventStream(Process process, string ns)
    {
        _process = process;
        _namespace = ns;
        _reader = ReadAsync();
    }

    /// <summary>Subscribes to <paramref name="containerd"/>'s events of its namespace (or <paramref name="ns"/>).</summary>
    public static async Task<CtrEventStream> StartAsync(PrivateContainerd containerd, string? ns = null)
    {
        var info = new ProcessStartInfo("ctr") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { "-a", containerd.Address, "events" })
        {
            info.ArgumentList.Add(argument);
        }
        var stream = new CtrEventStream(Process.Start(info)!, ns ?? containerd.Namespace);
        // The subscription is in place once ctr has connected; give it a moment (events before it are not replayed).
        await Task.Delay(500);
        return stream;
    }

    /// <summary>The events seen so far.</summary>
    public IReadOnlyList<CtrEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Waits until an event on <paramref name="topic"/> satisfies <paramref name="match"/> (within <paramref name="limit"/>, default 60 s) and returns it.</summary>
    public async Task<CtrEvent> WaitForAsync(string topic, Func<JsonElement, bool> match, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var found = Events.FirstOrDefault(e => e.Topic == topic && match(e.Payload));
            if (found is not null)
            {
                return found;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {topic} event matched within {limit ?? TimeSpan.FromSeconds(60)}; seen: {string.Join("; ", Events.Select(e => e.ToString()))}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>The topics of the events about container <paramref name="containerId"/>, in order.</summary>
    public IReadOnlyList<string> TopicsOf(string containerId) =>
        [.. Events.Where(e => e.Payload.TryGetProperty("container_id", out var id) && id.GetString() == containerId).Select(e => e.Topic)];

    /// <summary>Ends ctr events.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
        await _process.WaitForExitAsync();
        await _reader;
        _process.Dispose();
    }

    private async Task ReadAsync()
    {
        // "TIMESTAMP NAMESPACE TOPIC JSON": Go prints the timestamp with spaces in it, so the line is split at the
        // namespace, which is known.
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            int at = line.IndexOf(" " + _namespace + " /", StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }
            string rest = line[(at + _namespace.Length + 2)..];
            int space = rest.IndexOf(' ');
            string topic = space < 0 ? rest : rest[..space];
            string json = space < 0 ? "{}" : rest[(space + 1)..];
            JsonElement payload;
            try
            {
                payload = JsonDocument.Parse(json).RootElement.Clone();
            }
            catch (JsonException)
            {
                payload = JsonDocument.Parse("{}").RootElement.Clone();
            }
            lock (_events)
            {
                _events.Add(new CtrEvent(topic, payload, line));
            }
        }
    }
}
