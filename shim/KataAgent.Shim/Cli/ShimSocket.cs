using System.Net.Sockets;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The shim's listening socket, made as containerd's <c>NewSocket</c> makes it: the directory created, the socket
/// bound and listening, then its mode 0600. An address already bound gives <see cref="SocketError.AddressAlreadyInUse"/>,
/// which <c>start</c> answers by reusing a live shim or replacing a stale socket.
/// </summary>
internal static class ShimSocket
{
    /// <summary>listen(2)'s backlog: containerd opens one connection per task and they may all come at once.</summary>
    public const int Backlog = 128;

    /// <summary>Binds and listens on <paramref name="address"/> (a <c>unix://</c> path, or an abstract name).</summary>
    /// <exception cref="SocketException">Bind or listen failed (EADDRINUSE when something has the path).</exception>
    public static Socket Listen(string address)
    {
        string path = ShimSocketAddress.PathOf(address);
        bool isAbstract = path[0] == '\0';
        if (!isAbstract)
        {
            if (System.Text.Encoding.UTF8.GetByteCount(path) > ShimSocketAddress.PathLimit)
                throw new ShimUsageException($"{path}: the socket path is longer than {ShimSocketAddress.PathLimit} bytes");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(Backlog);
            if (!isAbstract)
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw;
        }
        catch
        {
            socket.Dispose();
            if (!isAbstract)
                File.Delete(path);
            throw;
        }
    }

    /// <summary>Whether something accepts connections on <paramref name="address"/> (containerd's <c>CanConnect</c>).</summary>
    public static bool CanConnect(string address)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(ShimSocketAddress.PathOf(address)));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Removes the socket file of <paramref name="address"/>, if it has one (containerd's <c>RemoveSocket</c>).</summary>
    public static void Remove(string address)
    {
        string path = ShimSocketAddress.PathOf(address);
        if (path[0] != '\0')
            File.Delete(path);
    }
}
