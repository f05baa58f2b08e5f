using System.Buffers.Binary;
using System.Net.Sockets;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Tests.Infrastructure;

/// <summary>A unix socket to a ttrpc server that the test writes bytes to as they are, frames or not, and reads frames from.</summary>
public sealed class RawTtrpcConnection : IDisposable
{
    private readonly Socket _socket;

    private RawTtrpcConnection(Socket socket) => _socket = socket;

    public static async Task<RawTtrpcConnection> ConnectUnixAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new RawTtrpcConnection(socket);
    }

    /// <summary>A frame header: payload length and stream id big-endian, then type and flags.</summary>
    public static byte[] Header(uint length, uint streamId, byte type, byte flags = 0)
    {
        var header = new byte[10];
        BinaryPrimitives.WriteUInt32BigEndian(header, length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), streamId);
        header[8] = type;
        header[9] = flags;
        return header;
    }

    public async Task SendAsync(params byte[][] parts)
    {
        foreach (byte[] part in parts)
        {
            await _socket.SendAsync(part, SocketFlags.None);
        }
    }

    /// <summary>Ends the test's sending half (the server reads end of stream).</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>The next frame's stream id and decoded response envelope, or null at end of stream.</summary>
    internal async Task<(uint StreamId, Response Response)?> ReadResponseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var header = new byte[10];
        if (!await ReadExactlyAsync(header, cts.Token))
        {
            return null;
        }
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        if (!await ReadExactlyAsync(payload, cts.Token))
        {
            throw new EndOfStreamException("the frame's payload was cut short");
        }
        if (header[8] != 2)
        {
            throw new InvalidDataException($"frame type {header[8]} is not a response");
        }
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), Response.Parser.ParseFrom(payload));
    }

    /// <summary>Whether the server closed the connection (end of stream or reset) within <paramref name="timeout"/>, reading and dropping anything before it.</summary>
    public async Task<bool> ClosedByPeerWithinAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();

    private async Task<bool> ReadExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer[read..], SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return read == 0 ? false : throw new EndOfStreamException("the frame was cut short");
            }
            read += n;
        }
        return true;
    }
}
