using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;
using KataAgent.Host.Transport;

namespace KataAgent.Host.Vsock;

internal sealed partial class VirtioVsockDevice
{
    /// <summary>Longest CONNECT line taken ("CONNECT 4294967295" is 18 bytes); longer is garbage.</summary>
    public const int MaxConnectLine = 32;

    private readonly Socket _listener;
    private readonly Task _acceptLoop;
    private readonly CancellationTokenSource _shutdown = new();

    /// <summary>The accept loop (ends when the device is disposed).</summary>
    public Task AcceptLoop => _acceptLoop;

    /// <summary>
    /// Binds the hybrid socket. A leftover socket nobody listens on (a crashed owner) is replaced; a live one, or
    /// anything that is not a socket, is an error and left alone.
    /// </summary>
    private static Socket BindHybridListener(string path)
    {
        var endpoint = new UnixDomainSocketEndPoint(path);
        if (Directory.Exists(path))
        {
            throw new IOException($"hybrid vsock socket {path}: a directory is in the way");
        }
        if (File.Exists(path))
        {
            if (!SocketFile.IsSocket(path))
            {
                throw new IOException($"hybrid vsock socket {path}: a file that is not a socket is in the way");
            }
            using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                try
                {
                    probe.Connect(endpoint);
                    throw new IOException($"hybrid vsock socket {path}: another process listens on it");
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    // Nobody listens: a socket a crashed owner left behind.
                }
                catch (SocketException e)
                {
                    // EAGAIN (a full backlog: alive), EACCES (someone else's): either way not ours to replace.
                    throw new IOException($"hybrid vsock socket {path}: in the way and not provably stale ({e.Message})", e);
                }
            }
            File.Delete(path);
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(endpoint);
            listener.Listen(1024);
            return listener;
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"hybrid vsock socket {path}: {e.Message}", e);
        }
    }


    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_shutdown.IsCancellationRequested)
                {
                    return;
                }
                // EMFILE and the like: say so, breathe, go on; the listener itself is fine.
                Log($"hybrid accept failed: {e.Message}");
                try
                {
                    await Task.Delay(100, _shutdown.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            _ = HandshakeAsync(client);
        }
    }

    /// <summary>
    /// Reads the client's <c>CONNECT &lt;port&gt;\n</c> byte by byte (nothing after the newline is consumed), within
    /// the handshake timeout; garbage, silence or EOF close this client only.
    /// </summary>
    private async Task HandshakeAsync(Socket client)
    {
        byte[] line = new byte[MaxConnectLine];
        int length = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        deadline.CancelAfter(_options.HandshakeTimeout);
        try
        {
            while (true)
            {
                int n = await client.ReceiveAsync(line.AsMemory(length, 1), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    client.Dispose();
                    return;
                }
                if (line[length] == (byte)'\n')
                {
                    break;
                }
                if (++length == MaxConnectLine)
                {
                    Log($"hybrid client dropped: no newline within {MaxConnectLine} bytes");
                    client.Dispose();
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            if (e is OperationCanceledException && !_shutdown.IsCancellationRequested)
            {
                Log($"hybrid client dropped: no CONNECT line within {_options.HandshakeTimeout.TotalMilliseconds:0} ms");
            }
            client.Dispose();
            return;
        }

        if (!TryParseConnect(line.AsSpan(0, length), out uint port))
        {
            Log("hybrid client dropped: not a 'CONNECT <port>' line");
            client.Dispose();
            return;
        }
        OpenHostConnection(client, port);
    }

    /// <summary>Parses <c>CONNECT &lt;decimal port&gt;</c> (a trailing CR tolerated).</summary>
    internal static bool TryParseConnect(ReadOnlySpan<byte> line, out uint port)
    {
        port = 0;
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }
        ReadOnlySpan<byte> prefix = "CONNECT "u8;
        if (!line.StartsWith(prefix))
        {
            return false;
        }
        var digits = line[prefix.Length..];
        if (digits.IsEmpty || digits.Length > 10)
        {
            return false;
        }
        ulong value = 0;
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            value = (value * 10) + (ulong)(b - '0');
        }
        if (value > uint.MaxValue)
        {
            return false;
        }
        port = (uint)value;
        return true;
    }

    private void CloseHybridListener()
    {
        _shutdown.Cancel();
        _listener.Dispose();
        try
        {
            File.Delete(_options.HybridSocketPath);
        }
        catch (IOException e)
        {
            Log($"could not delete {_options.HybridSocketPath}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            Log($"could not delete {_options.HybridSocketPath}: {e.Message}");
        }
    }
}
