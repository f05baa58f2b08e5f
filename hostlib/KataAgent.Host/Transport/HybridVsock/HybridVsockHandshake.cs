using System.Globalization;
using System.Text;

namespace KataAgent.Host.Transport.HybridVsock;

/// <summary>
/// The host side of hybrid vsock (Firecracker, Cloud Hypervisor, vhost-user-vsock): on the VMM's
/// unix socket write <c>CONNECT PORT\n</c>, read <c>OK HOSTPORT\n</c>; after that the socket is a
/// plain byte stream to the guest's listener.
/// </summary>
internal static class HybridVsockHandshake
{
    /// <summary>Longest reply line accepted; real replies are "OK " plus at most 10 digits.</summary>
    public const int MaxReplyLength = 64;

    /// <summary>
    /// Performs the handshake on <paramref name="stream"/>. Reads byte by byte so that nothing
    /// after the reply line is consumed. Returns the host-side port the VMM assigned.
    /// </summary>
    /// <exception cref="HybridVsockException">Refused (closed), garbage reply, or no reply in time.</exception>
    public static async Task<uint> ConnectAsync(Stream stream, string socketPath, uint port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        byte[] request = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"CONNECT {port}\n"));
        var reply = new StringBuilder();
        try
        {
            await stream.WriteAsync(request, deadline.Token).ConfigureAwait(false);
            await stream.FlushAsync(deadline.Token).ConfigureAwait(false);
            byte[] one = new byte[1];
            while (true)
            {
                int n = await stream.ReadAsync(one, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new HybridVsockException(socketPath, port, reply.Length == 0
                        ? "the VMM closed the connection without a reply (is the guest listening on that port?)"
                        : $"the VMM closed the connection after the partial reply '{Printable(reply.ToString())}'");
                }
                if (one[0] == (byte)'\n')
                {
                    break;
                }
                if (reply.Length >= MaxReplyLength)
                {
                    throw new HybridVsockException(socketPath, port, $"reply longer than {MaxReplyLength} bytes without a newline: '{Printable(reply.ToString())}…'");
                }
                reply.Append((char)one[0]);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HybridVsockException(socketPath, port, $"no reply to CONNECT within {timeout.TotalMilliseconds:0} ms");
        }
        catch (IOException e)
        {
            throw new HybridVsockException(socketPath, port, $"connection failed during the handshake: {e.Message}", e);
        }

        return ParseReply(reply.ToString().TrimEnd('\r'), socketPath, port);
    }

    /// <summary>Accepts <c>OK</c> or <c>OK N</c>; anything else is an error naming the reply.</summary>
    public static uint ParseReply(string line, string socketPath, uint port)
    {
        if (line == "OK")
        {
            return 0;
        }
        if (line.StartsWith("OK ", StringComparison.Ordinal)
            && uint.TryParse(line.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out uint hostPort))
        {
            return hostPort;
        }
        throw new HybridVsockException(socketPath, port, $"unexpected reply '{Printable(line)}' (expected 'OK <port>')");
    }

    private static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            builder.Append(c is >= ' ' and < (char)0x7f ? c : '?');
        }
        return builder.ToString();
    }
}
