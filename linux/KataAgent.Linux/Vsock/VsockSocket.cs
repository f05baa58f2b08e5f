using KataAgent.Linux.Interop;

namespace KataAgent.Linux.Vsock;

/// <summary>
/// AF_VSOCK sockets made with raw syscalls: .NET's Socket has no vsock endpoint type. Their fds
/// are carried by <see cref="IO.FileDescriptorStream"/>.
/// </summary>
internal static unsafe class VsockSocket
{
    /// <summary>Creates, binds and listens on an AF_VSOCK stream socket; returns the listening fd.</summary>
    /// <exception cref="LinuxException">The kernel refused (e.g. EAFNOSUPPORT without the vsock module,
    /// EADDRNOTAVAIL when no transport provides the CID).</exception>
    public static int Listen(uint cid, uint port, int backlog)
    {
        string where = $"vsock://{FormatCid(cid)}:{port}";
        int fd = Libc.Check(Libc.Socket(Libc.AF_VSOCK, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), $"socket(AF_VSOCK) for {where}");
        try
        {
            var address = new VsockAddress(cid, port);
            Libc.Check(Libc.Bind(fd, &address, (uint)sizeof(VsockAddress)), $"bind {where}");
            Libc.Check(Libc.Listen(fd, backlog), $"listen {where}");
            return fd;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>Connects to (cid, port); blocks up to the kernel's vsock connect timeout. Returns the connected fd (CLOEXEC).</summary>
    /// <exception cref="LinuxException">EAFNOSUPPORT without vsock support, ENODEV/EHOSTUNREACH without a
    /// transport for that CID, ECONNRESET/ECONNREFUSED when nothing listens on the port.</exception>
    public static int Connect(uint cid, uint port)
    {
        string where = $"vsock://{FormatCid(cid)}:{port}";
        int fd = Libc.Check(Libc.Socket(Libc.AF_VSOCK, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), $"socket(AF_VSOCK) for {where}");
        var address = new VsockAddress(cid, port);
        while (Libc.Connect(fd, &address, (uint)sizeof(VsockAddress)) != 0)
        {
            var error = LinuxException.FromLastError($"connect {where}");
            if (error.Errno != Errno.EINTR)
            {
                Libc.Close(fd);
                throw error;
            }
        }
        return fd;
    }

    /// <summary>Formats a CID the way addresses write it: VMADDR_CID_ANY as -1.</summary>
    public static string FormatCid(uint cid) => cid == VsockAddress.AnyCid ? "-1" : cid.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
