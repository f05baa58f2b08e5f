using System.Net;
using System.Net.Sockets;
using KataAgent.Agent.Config;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using Microsoft.AspNetCore.Connections;

namespace KataAgent.Agent.Transport;

/// <summary>
/// The agent's listener on a <c>unix://</c> (a path or an abstract name) or <c>tcp://</c> address: a .NET socket,
/// whose accepts and reads wait in the runtime's one epoll thread, not a thread per connection. The socket file of a
/// path address is removed when the listener is.
/// </summary>
internal sealed class SocketConnectionListener : IConnectionListener
{
    private const int Backlog = 512;
    private readonly Socket _socket;
    private readonly AgentAddress _address;
    private readonly string? _socketFile;
    private int _closed;

    private SocketConnectionListener(Socket socket, AgentAddress address, EndPoint endPoint, string? socketFile)
    {
        _socket = socket;
        _address = address;
        EndPoint = endPoint;
        _socketFile = socketFile;
    }

    public EndPoint EndPoint { get; }

    /// <summary>
    /// Binds and listens on <paramref name="address"/>. Throws <see cref="AgentConfigException"/> for a path that is in
    /// the way (not a socket, or one another process serves on) and <see cref="SocketException"/> when bind fails.
    /// </summary>
    public static SocketConnectionListener Bind(AgentAddress address)
    {
        EndPoint endPoint;
        string? socketFile = null;
        switch (address.Kind)
        {
            case AgentAddressKind.Unix when address.IsAbstractUnix:
                endPoint = new UnixDomainSocketEndPoint("\0" + address.Path![1..]);
                break;
            case AgentAddressKind.Unix:
                RemoveStaleSocket(address.Path!);
                endPoint = new UnixDomainSocketEndPoint(address.Path!);
                socketFile = address.Path;
                break;
            case AgentAddressKind.Tcp:
                endPoint = new IPEndPoint(address.Host!, (int)address.Port);
                break;
            default:
                throw new ArgumentException($"{address}: only unix:// and tcp:// addresses are socket addresses", nameof(address));
        }
        var socket = address.Kind == AgentAddressKind.Unix
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(Backlog);
            return new SocketConnectionListener(socket, address, endPoint, socketFile);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Volatile.Read(ref _closed) == 1 && e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return null;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                // A client that went away between its connect and our accept.
                continue;
            }
            if (_address.Kind == AgentAddressKind.Tcp)
            {
                accepted.NoDelay = true;
            }
            EndPoint? remote = _address.Kind == AgentAddressKind.Tcp ? accepted.RemoteEndPoint : null;
            return new StreamConnection(new NetworkStream(accepted, ownsSocket: true), _address.Kind == AgentAddressKind.Tcp ? "tcp" : "unix", EndPoint, remote);
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }
        _socket.Dispose();
        if (_socketFile is not null)
        {
            try
            {
                File.Delete(_socketFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left behind; the next agent's stale-socket check removes it.
            }
        }
    }

    /// <summary>
    /// A socket file left by an agent that died keeps bind from working. Remove it only when
    /// nothing answers on it, so a second agent never steals a live one's address.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        int? type = Libc.FileType(path);
        if (type is null)
        {
            return;
        }
        if (type != Libc.S_IFSOCK)
        {
            throw new AgentConfigException($"unix://{path}: the path exists and is not a socket");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path);
            return;
        }
        throw new AgentConfigException($"unix://{path}: another process is serving on this socket");
    }
}
