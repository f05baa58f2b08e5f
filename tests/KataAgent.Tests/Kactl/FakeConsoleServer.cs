using System.Net.Sockets;
using System.Text;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// Plays qemu's console.sock (a chardev socket server) with a pretend shell behind it: everything
/// received is kept, and each carriage return (Enter on a raw terminal) is answered with
/// <see cref="Reply"/>. With <see cref="CloseAfterFirstLine"/> it hangs up instead, as a VM that powers off.
/// </summary>
public sealed class FakeConsoleServer : IAsyncDisposable
{
    public const string Reply = "hi\r\n# ";

    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly MemoryStream _received = new();
    private readonly Task _serving;

    /// <param name="socketPath">Where to listen.</param>
    /// <param name="closeAfterFirstLine">Hang up at the first carriage return.</param>
    /// <param name="hybridVsockPort">Play a hybrid-vsock socket instead (our vhost-user-vsock backend's): expect
    /// <c>CONNECT PORT\n</c> for this port first and answer <c>OK PORT\n</c>; any other port is closed at once.</param>
    public FakeConsoleServer(string socketPath, bool closeAfterFirstLine = false, uint? hybridVsockPort = null)
    {
        CloseAfterFirstLine = closeAfterFirstLine;
        HybridVsockPort = hybridVsockPort;
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(1);
        _serving = Task.Run(ServeAsync);
    }

    public bool CloseAfterFirstLine { get; }

    public uint? HybridVsockPort { get; }

    /// <summary>The hybrid-vsock request line received (without its newline), or null.</summary>
    public string? ConnectLine { get; private set; }

    /// <summary>Completes when the client disconnected (or the server hung up).</summary>
    public Task Finished => _serving;

    /// <summary>Every byte kactl sent, as Latin-1 text.</summary>
    public string Received
    {
        get
        {
            lock (_received)
            {
                return Encoding.Latin1.GetString(_received.ToArray());
            }
        }
    }

    private async Task ServeAsync()
    {
        using var connection = await _listener.AcceptAsync();
        if (HybridVsockPort is { } port)
        {
            var line = new StringBuilder();
            var one = new byte[1];
            while (await connection.ReceiveAsync(one, SocketFlags.None) == 1 && one[0] != (byte)'\n')
            {
                line.Append((char)one[0]);
            }
            ConnectLine = line.ToString();
            if (ConnectLine != $"CONNECT {port}")
            {
                return;
            }
            await connection.SendAsync(Encoding.ASCII.GetBytes($"OK {port}\n"), SocketFlags.None);
        }
        var buffer = new byte[4096];
        while (true)
        {
            int n = await connection.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                return;
            }
            lock (_received)
            {
                _received.Write(buffer, 0, n);
            }
            if (Array.IndexOf(buffer, (byte)'\r', 0, n) >= 0)
            {
                if (CloseAfterFirstLine)
                {
                    return;
                }
                await connection.SendAsync(Encoding.ASCII.GetBytes(Reply), SocketFlags.None);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        try
        {
            await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or TimeoutException)
        {
        }
    }
}
