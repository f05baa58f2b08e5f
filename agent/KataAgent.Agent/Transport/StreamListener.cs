using System.Text;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Vsock;

namespace KataAgent.Agent.Transport;

/// <summary>
/// A listening stream socket on a <c>vsock://</c> or <c>unix://</c> address, made with raw syscalls
/// (.NET's Socket has no vsock endpoint type) and accepting with poll+accept4, woken by an eventfd
/// on dispose. Accepted connections are plain fds, for callers that pump bytes between fds (the
/// debug console, the log channel). A unix address behaves as a vsock one does in a guest, which
/// lets hosts without vsock test the same code.
/// </summary>
public sealed unsafe class StreamListener : IDisposable
{
    private const int Backlog = 16;
    private readonly int _listenFd;
    private readonly int _wakeFd;
    private readonly string? _socketFile;
    private int _closed;
    private int _activeAccepts;

    private StreamListener(AgentAddress address, int listenFd, int wakeFd, string? socketFile)
    {
        Address = address;
        _listenFd = listenFd;
        _wakeFd = wakeFd;
        _socketFile = socketFile;
    }

    public AgentAddress Address { get; }

    /// <summary>Binds and listens; throws <see cref="LinuxException"/> or <see cref="ArgumentException"/> for an address kind it cannot listen on.</summary>
    public static StreamListener Listen(AgentAddress address)
    {
        int fd;
        string? socketFile = null;
        switch (address.Kind)
        {
            case AgentAddressKind.Vsock:
                fd = VsockSocket.Listen(address.Cid, address.Port, Backlog);
                break;
            case AgentAddressKind.Unix:
                fd = ListenUnix(address);
                socketFile = address.IsAbstractUnix ? null : address.Path;
                break;
            default:
                throw new ArgumentException($"{address}: only vsock:// and unix:// addresses can be listened on here", nameof(address));
        }
        int wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (wake < 0)
        {
            var error = LinuxException.FromLastError("eventfd");
            Libc.Close(fd);
            throw error;
        }
        return new StreamListener(address, fd, wake, socketFile);
    }

    /// <summary>Waits for the next connection; returns its fd (CLOEXEC, blocking), or -1 once disposed.</summary>
    public int Accept()
    {
        Interlocked.Increment(ref _activeAccepts);
        try
        {
            Libc.PollFd* fds = stackalloc Libc.PollFd[2];
            while (Volatile.Read(ref _closed) == 0)
            {
                fds[0] = new Libc.PollFd { Fd = _listenFd, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
                if (Libc.Poll(fds, 2, -1) < 0 || fds[1].Revents != 0)
                {
                    continue;
                }
                int fd = Libc.Accept4(_listenFd, null, null, Libc.SOCK_CLOEXEC);
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
            Interlocked.Decrement(ref _activeAccepts);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }
        ulong one = 1;
        Libc.Write(_wakeFd, (byte*)&one, sizeof(ulong));
        SpinWait spin = default;
        while (Volatile.Read(ref _activeAccepts) > 0)
        {
            spin.SpinOnce();
        }
        Libc.Close(_listenFd);
        Libc.Close(_wakeFd);
        if (_socketFile is not null)
        {
            File.Delete(_socketFile);
        }
    }

    private static int ListenUnix(AgentAddress address)
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
            Libc.Check(Libc.Listen(fd, Backlog), $"listen {address}");
            return fd;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }
}
