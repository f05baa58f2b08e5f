using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataAgent.Host.Vm;

/// <summary>
/// A client of qemu's QEMU Machine Protocol over its unix socket (<c>-qmp unix:PATH,server=on,wait=off</c>):
/// reads the greeting, negotiates <c>qmp_capabilities</c>, then runs commands tagged with ids. Replies are
/// matched to their command by id; asynchronous events (DEVICE_DELETED, SHUTDOWN, …) are kept apart, so an
/// event that arrives between a command and its reply never gets mistaken for the reply, and one that
/// arrives before anybody waits for it is kept until claimed. JSON is handled with
/// <see cref="JsonDocument"/> and <see cref="Utf8JsonWriter"/> only: no reflection, Native-AOT safe.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    /// <summary>Events nobody has claimed yet are kept up to this many (oldest dropped): enough for a burst of hot-plug events.</summary>
    private const int UnclaimedEventLimit = 256;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly object _gate = new();
    private readonly Dictionary<long, (string Command, TaskCompletionSource<JsonElement> Reply)> _pending = [];
    private readonly LinkedList<QmpEvent> _unclaimed = new();
    private readonly List<(string Name, Func<QmpEvent, bool>? Match, TaskCompletionSource<QmpEvent> Event)> _eventWaiters = [];
    private long _nextId;
    private Exception? _closed;
    private Task _readLoop = Task.CompletedTask;

    private QmpClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);
    }

    /// <summary>The QMP socket.</summary>
    public string SocketPath { get; }

    /// <summary>The greeting's <c>QMP</c> object (version, capabilities).</summary>
    public JsonElement Greeting { get; private set; }

    /// <summary>qemu's version from the greeting, "major.minor.micro".</summary>
    public string QemuVersion =>
        Greeting.TryGetProperty("version", out var v) && v.TryGetProperty("qemu", out var q)
            ? $"{q.GetProperty("major").GetInt32()}.{q.GetProperty("minor").GetInt32()}.{q.GetProperty("micro").GetInt32()}"
            : "unknown";

    /// <summary>Completes when the connection ends (qemu quit, or the client was disposed).</summary>
    public Task Closed => _readLoop;

    /// <summary>Raised on the reading thread for every event, before it is offered to <see cref="WaitForEventAsync"/>.</summary>
    public event Action<QmpEvent>? EventReceived;

    /// <summary>
    /// Connects, reads the greeting and leaves capabilities negotiation mode. qemu creates the socket while it
    /// starts, so connecting is retried (socket missing or refusing) until <paramref name="timeout"/> passes
    /// (default: a single attempt).
    /// </summary>
    /// <exception cref="QmpConnectionException">The socket does not accept within the timeout, or qemu sends no valid greeting.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.Zero);
        Socket socket;
        while (true)
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.AddressFamilyNotSupported || !File.Exists(socketPath))
            {
                socket.Dispose();
                if (DateTime.UtcNow >= deadline)
                {
                    throw new QmpConnectionException($"cannot connect to qemu's QMP socket {socketPath}: {e.Message}", e);
                }
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        var client = new QmpClient(socketPath, socket);
        try
        {
            await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new QmpConnectionException($"the QMP connection to {socketPath} failed during the greeting: {e.Message}", e);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="command"/> and returns its <c>return</c> value (an empty object for most commands).
    /// </summary>
    /// <exception cref="QmpException">qemu answered with an error.</exception>
    /// <exception cref="QmpConnectionException">The connection ended before the reply.</exception>
    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        long id;
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_closed is not null)
            {
                throw new QmpConnectionException($"the QMP connection to {SocketPath} is closed: {_closed.Message}", _closed);
            }
            id = ++_nextId;
            _pending[id] = (command, reply);
        }
        try
        {
            await WriteAsync(Serialize(command, arguments, id), cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _pending.Remove(id);
            }
        }
    }

    /// <summary>
    /// The next event named <paramref name="name"/> (that <paramref name="match"/> accepts, when given) not yet
    /// claimed by another wait: one that already arrived is returned at once, so call this after the command
    /// that causes the event without losing it.
    /// </summary>
    /// <exception cref="QmpConnectionException">The connection ended first.</exception>
    public Task<QmpEvent> WaitForEventAsync(string name, Func<QmpEvent, bool>? match = null, CancellationToken cancellationToken = default)
    {
        var waiter = new TaskCompletionSource<QmpEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            for (var node = _unclaimed.First; node is not null; node = node.Next)
            {
                if (node.Value.Name == name && (match is null || match(node.Value)))
                {
                    _unclaimed.Remove(node);
                    return Task.FromResult(node.Value);
                }
            }
            if (_closed is not null)
            {
                return Task.FromException<QmpEvent>(new QmpConnectionException($"the QMP connection to {SocketPath} closed before event {name}", _closed));
            }
            _eventWaiters.Add((name, match, waiter));
        }
        if (!cancellationToken.CanBeCanceled)
        {
            return waiter.Task;
        }
        return WaitCancellableAsync();

        async Task<QmpEvent> WaitCancellableAsync()
        {
            try
            {
                return await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_gate)
                {
                    _eventWaiters.RemoveAll(w => w.Event == waiter);
                }
                // The event may have been handed over just before the cancellation won: put it back for others.
                if (waiter.Task.IsCompletedSuccessfully)
                {
                    lock (_gate)
                    {
                        _unclaimed.AddFirst(waiter.Task.Result);
                    }
                }
                throw;
            }
        }
    }

    /// <summary>Closes the connection; pending commands and event waits fail with <see cref="QmpConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The read loop ends by design with the socket; its error was handed to the waiters.
        }
        _reader.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        string? line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new QmpConnectionException($"qemu closed the QMP socket {SocketPath} before its greeting");
        try
        {
            using var greeting = JsonDocument.Parse(line);
            Greeting = greeting.RootElement.TryGetProperty("QMP", out var qmp) && qmp.ValueKind == JsonValueKind.Object
                ? qmp.Clone()
                : throw new QmpConnectionException($"not a QMP greeting on {SocketPath}: {Truncate(line)}");
        }
        catch (JsonException e)
        {
            throw new QmpConnectionException($"not a QMP greeting on {SocketPath}: {Truncate(line)}", e);
        }
        _readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
        await ExecuteAsync("qmp_capabilities", cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        Exception reason;
        try
        {
            while (true)
            {
                string? line = await _reader.ReadLineAsync().ConfigureAwait(false);
                if (line is null)
                {
                    reason = new IOException($"qemu closed the QMP connection {SocketPath}");
                    break;
                }
                if (line.Length > 0)
                {
                    Dispatch(line);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or JsonException)
        {
            reason = e is IOException ? e : new IOException($"the QMP connection {SocketPath} failed: {e.Message}", e);
        }
        Close(reason);
    }

    private void Dispatch(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.TryGetProperty("event", out var name))
        {
            var data = root.TryGetProperty("data", out var d) ? d.Clone() : EmptyObject();
            var stamp = root.TryGetProperty("timestamp", out var t)
                ? DateTimeOffset.FromUnixTimeSeconds(t.GetProperty("seconds").GetInt64()).AddTicks(t.GetProperty("microseconds").GetInt64() * 10)
                : DateTimeOffset.UtcNow;
            OnEvent(new QmpEvent(name.GetString() ?? "", data, stamp));
            return;
        }
        bool isReturn = root.TryGetProperty("return", out var value);
        bool isError = root.TryGetProperty("error", out var error);
        if (!isReturn && !isError)
        {
            return; // Nothing QMP defines; a newer qemu may add message kinds.
        }
        TaskCompletionSource<JsonElement>? reply;
        string command;
        lock (_gate)
        {
            // qemu answers a request it could not parse (so it has no id) without one; commands are answered in
            // order, so such a reply belongs to the oldest one waiting.
            long id = root.TryGetProperty("id", out var tag) && tag.ValueKind == JsonValueKind.Number && tag.TryGetInt64(out long tagged)
                ? tagged
                : _pending.Count > 0 ? _pending.Keys.Min() : -1;
            if (!_pending.Remove(id, out var entry))
            {
                return; // The caller gave up (cancelled) on this one.
            }
            (command, reply) = entry;
        }
        if (isError)
        {
            string errorClass = error.TryGetProperty("class", out var c) ? c.GetString() ?? "" : "";
            string description = error.TryGetProperty("desc", out var desc) ? desc.GetString() ?? "" : "";
            reply.TrySetException(new QmpException(command, errorClass, description));
        }
        else
        {
            reply.TrySetResult(value.Clone());
        }
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        try
        {
            EventReceived?.Invoke(qmpEvent);
        }
        catch (Exception)
        {
            // A subscriber's failure must not end the connection for everybody else.
        }
        TaskCompletionSource<QmpEvent>? claimed = null;
        lock (_gate)
        {
            int index = _eventWaiters.FindIndex(w => w.Name == qmpEvent.Name && (w.Match is null || w.Match(qmpEvent)));
            if (index >= 0)
            {
                claimed = _eventWaiters[index].Event;
                _eventWaiters.RemoveAt(index);
            }
            else
            {
                _unclaimed.AddLast(qmpEvent);
                if (_unclaimed.Count > UnclaimedEventLimit)
                {
                    _unclaimed.RemoveFirst();
                }
            }
        }
        claimed?.TrySetResult(qmpEvent);
    }

    private void Close(Exception reason)
    {
        List<TaskCompletionSource<JsonElement>> replies;
        List<TaskCompletionSource<QmpEvent>> events;
        lock (_gate)
        {
            _closed = reason;
            replies = [.. _pending.Values.Select(p => p.Reply)];
            _pending.Clear();
            events = [.. _eventWaiters.Select(w => w.Event)];
            _eventWaiters.Clear();
        }
        foreach (var reply in replies)
        {
            reply.TrySetException(new QmpConnectionException(reason.Message, reason));
        }
        foreach (var waiter in events)
        {
            waiter.TrySetException(new QmpConnectionException(reason.Message, reason));
        }
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new QmpConnectionException($"cannot write to qemu's QMP socket {SocketPath}: {e.Message}", e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static ReadOnlyMemory<byte> Serialize(string command, JsonObject? arguments, long id)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments");
                arguments.WriteTo(writer);
            }
            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
    }

    private static JsonElement EmptyObject()
    {
        using var empty = JsonDocument.Parse("{}");
        return empty.RootElement.Clone();
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
