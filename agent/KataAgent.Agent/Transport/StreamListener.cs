using System.Text;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Vsock;

namespace KataAgent.Agent.Transport;

/// <summary>
/// A listening stream socket on a <c>vsock://</c> or <c>unix://</c> address, made with raw syscalls
/// (.NET's Socket has no vsock endpoint type): the one accept loop of the agent. <see cref="Accept()"/> waits in
/// poll(2) on the (non-blocking) listening socket and an eventfd, then accept4s; <see cref="Dispose"/> signals the
/// eventfd. Both fds are <see cref="SafeFileDescriptor"/>s that an accepting thread holds a reference on, so
/// disposing while a thread is in poll closes nothing under it: the fds close when it leaves. Accepted connections
/// are plain fds, for callers that pump bytes between fds (the debug console, the log channel) or wrap them in a
/// stream (the gRPC server's <see cref="VsockConnectionListener"/>). A unix address behaves as a vsock one does in a
/// guest, which lets hosts without vsock test the same code.
/// </summary>
internal sealed unsafe class StreamListener : IDisposable
{
    /// <summary>The listen(2) backlog unless the caller asks for another.</summary>
    public const int DefaultBacklog = 16;

    private readonly SafeFileDescriptor _listen;
    private readonly SafeFileDescriptor _wake;
    private readonly string? _socketFile;
    private int _closed;

    private StreamListener(AgentAddress address, SafeFileDescriptor listen, SafeFileDescriptor wake, string? socketFile)
    {
        Address = address;
        _listen = listen;
        _wake = wake;
        _socketFile = socketFile;
    }

    public AgentAddress Address { get; }

    /// <summary>Binds and listens; throws <see cref="LinuxException"/> or <see cref="ArgumentException"/> for an address kind it cannot listen on.</summary>
    public static StreamListener Listen(AgentAddress address, int backlog = DefaultBacklog)
    {
        string? socketFile = null;
        var listen = address.Kind switch
        {
            AgentAddressKind.Vsock => new SafeFileDescriptor(VsockSocket.Listen(address.Cid, address.Port, backlog)),
            AgentAddressKind.Unix => new SafeFileDescriptor(ListenUnix(address, backlog)),
            _ => throw new ArgumentException($"{address}: only vsock:// and unix:// addresses can be listened on here", nameof(address)),
        };
        if (address.Kind == AgentAddressKind.Unix && !address.IsAbstractUnix)
        {
            socketFile = address.Path;
        }
        try
        {
            int fd = (int)listen.DangerousGetHandle();
            // A connection that goes away between poll and accept4 must give EAGAIN, not block the loop.
            int flags = Libc.Check(Libc.Fcntl(fd, Libc.F_GETFL, 0), $"fcntl(F_GETFL) on {address}");
            Libc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK), $"fcntl(O_NONBLOCK) on {address}");
            var wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
            return new StreamListener(address, listen, wake, socketFile);
        }
        catch
        {
            listen.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the next connection; returns its fd (CLOEXEC, blocking), or -1 once disposed.</summary>
    /// <exception cref="LinuxException">accept4 failed for a reason other than a connection that went away.</exception>
    public int Accept() => AcceptCore(null);

    /// <summary>As <see cref="Accept()"/>, also giving the peer's address (meaningful on a vsock listener; zero otherwise).</summary>
    public int Accept(out VsockAddress peer)
    {
        VsockAddress address = default;
        int fd = AcceptCore(&address);
        peer = address;
        return fd;
    }

    private int AcceptCore(VsockAddress* peer)
    {
        bool listenReferenced = false;
        bool wakeReferenced = false;
        try
        {
            try
            {
                _listen.DangerousAddRef(ref listenReferenced);
                _wake.DangerousAddRef(ref wakeReferenced);
            }
            catch (ObjectDisposedException)
            {
                return -1;
            }
            int listenFd = (int)_listen.DangerousGetHandle();
            int wakeFd = (int)_wake.DangerousGetHandle();
            Libc.PollFd* fds = stackalloc Libc.PollFd[2];
            while (Volatile.Read(ref _closed) == 0)
            {
                fds[0] = new Libc.PollFd { Fd = listenFd, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = wakeFd, Events = Libc.POLLIN };
                if (Libc.Poll(fds, 2, -1) < 0 || fds[1].Revents != 0)
                {
                    continue;
                }
                uint length = (uint)sizeof(VsockAddress);
                int fd = peer is null
                    ? Libc.Accept4(listenFd, null, null, Libc.SOCK_CLOEXEC)
                    : Libc.Accept4(listenFd, peer, &length, Libc.SOCK_CLOEXEC);
                if (fd >= 0)
                {
                    return fd;
                }
                var error = LinuxException.FromLastError($"accept on {Address}");
                if (error.Errno is not (Errno.EAGAIN or Errno.EINTR or Errno.ECONNABORTED or Errno.ECONNRESET))
                {
                    throw error;
                }
            }
            return -1;
        }
        finally
        {
            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }
            if (listenReferenced)
            {
                _listen.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Wakes every <see cref="Accept()"/> (they return -1) and closes the fds once the last one has left poll; removes
    /// the socket file of a unix listener. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }
        bool referenced = false;
        try
        {
            _wake.DangerousAddRef(ref referenced);
            ulong one = 1;
            _ = Libc.Write((int)_wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
        }
        finally
        {
            if (referenced)
            {
                _wake.DangerousRelease();
            }
        }
        _listen.Dispose();
        _wake.Dispose();
        if (_socketFile is not null)
        {
            File.Delete(_socketFile);
        }
    }

    private static int ListenUnix(AgentAddress address, int backlog)
    {
        // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }; abstract names start with NUL.
        byte[] path = Encoding.UTF8.GetBytes(address.IsAbstractUnix ? "\0" + address.Path![1..] : address.Path!);
        if (path.Length >= 108)
        {
            throw new ArgumentException($"{address}: the socket path is longer than 107 bytes", nameof(address));
        }
        if (!address.IsAbstractUnix && Libc.FileType(address.Path!) == Libc.S_IFSOCK)
        {
            File.Delete(address.Path!);
        }
        int fd = Libc.Check(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), $"socket(AF_UNIX) for {address}");
        try
        {
            byte* sockaddr = stackalloc byte[110];
            new Span<byte>(sockaddr, 110).Clear();
            *(ushort*)sockaddr = Libc.AF_UNIX;
            path.CopyTo(new Span<byte>(sockaddr + 2, 108));
            Libc.Check(Libc.Bind(fd, sockaddr, (uint)(2 + path.Length + (address.IsAbstractUnix ? 0 : 1))), $"bind {address}");
            Libc.Check(Libc.Listen(fd, backlog), $"listen {address}");
            return fd;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }
}
