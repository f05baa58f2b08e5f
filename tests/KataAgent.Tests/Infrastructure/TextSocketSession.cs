using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// A unix-socket connection read as text in the background (the host end of a console or log
/// port): send lines, wait for a pattern in what came back.
/// </summary>
public sealed class TextSocketSession : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StringBuilder _received = new();
    private readonly Task _reader;
    private readonly SemaphoreSlim _arrived = new(0);
    private int _consumed;

    private TextSocketSession(Socket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>Everything received so far.</summary>
    public string Received
    {
        get
        {
            lock (_received)
            {
                return _received.ToString();
            }
        }
    }

    /// <summary>Connects, retrying while the socket is not there yet or refuses.</summary>
    public static async Task<TextSocketSession> ConnectAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
                return new TextSocketSession(socket);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                await Task.Delay(50);
            }
        }
    }

    public async Task SendAsync(string text) => await _socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None);

    /// <summary>
    /// Waits until text received after the previous wait matches <paramref name="pattern"/>; returns
    /// the match and moves past it. Throws with everything received when it does not come.
    /// </summary>
    public async Task<Match> WaitForAsync(string pattern, TimeSpan timeout)
    {
        var regex = new Regex(pattern, RegexOptions.Multiline);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string text = Received;
            var match = regex.Match(text, _consumed);
            if (match.Success)
            {
                _consumed = match.Index + match.Length;
                return match;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _reader.IsCompleted && !await _arrived.WaitAsync(0))
            {
                throw new TimeoutException($"'{pattern}' did not arrive within {timeout.TotalSeconds} s; received:\n{text[_consumed..]}");
            }
            await _arrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        try
        {
            await _reader;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[4096];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        while (true)
        {
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                _arrived.Release();
                return;
            }
            int count = decoder.GetChars(buffer, 0, n, chars, 0);
            lock (_received)
            {
                _received.Append(chars, 0, count);
            }
            _arrived.Release();
        }
    }
}
