using System.Net.Sockets;
using System.Text;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The shim's listening socket, made as containerd's <c>NewSocket</c> makes it: the directory created, the socket
/// bound and listening, then its mode 0600. Bound with raw syscalls, not <see cref="Socket.Bind"/>: a .NET socket
/// that bound a path unlinks it when disposed, and <c>start</c> closes its copy while the daemon goes on serving.
/// </summary>
internal static unsafe class ShimSocket
{
    /// <summary>listen(2)'s backlog: containerd opens one connection per task and they may all come at once.</summary>
    public const int Backlog = 128;

    /// <summary>Binds and listens on <paramref name="address"/> (a <c>unix://</c> path, or an abstract name); returns the fd.</summary>
    /// <exception cref="ShimInteropException">socket, bind or listen failed; <see cref="ShimLibc.EADDRINUSE"/> when the path is taken.</exception>
    public static SafeSocketHandle Listen(string address)
    {
        string path = ShimSocketAddress.PathOf(address);
        bool isAbstract = path[0] == '\0';
        byte[] name = Encoding.UTF8.GetBytes(path);
        if (name.Length > ShimSocketAddress.PathLimit)
            throw new ShimUsageException($"{path}: the socket path is longer than {ShimSocketAddress.PathLimit} bytes");
        if (!isAbstract)
            Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        int fd = ShimLibc.Check(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket(AF_UNIX)");
        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        try
        {
            // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
            byte* sockaddr = stackalloc byte[110];
            new Span<byte>(sockaddr, 110).Clear();
            *(ushort*)sockaddr = Libc.AF_UNIX;
            name.CopyTo(new Span<byte>(sockaddr + 2, 108));
            uint length = (uint)(2 + name.Length + (isAbstract ? 0 : 1));
            ShimLibc.Check(Libc.Bind(fd, sockaddr, length), $"bind {path}");
            try
            {
                ShimLibc.Check(Libc.Listen(fd, Backlog), $"listen {path}");
                if (!isAbstract)
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            catch
            {
                if (!isAbstract)
                    File.Delete(path);
                throw;
            }
            return handle;
        }
        catch
        {
            handle.Dispose();
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
