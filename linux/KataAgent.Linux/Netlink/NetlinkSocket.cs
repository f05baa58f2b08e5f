using KataAgent.Linux.Interop;
using KataAgent.Linux.Namespaces;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>
/// A netlink socket (CLOEXEC) that sends one request at a time and collects its answer: the
/// messages of a multi-part dump up to NLMSG_DONE, or a reply and its acknowledgement. Every
/// request asks for an ACK, so a failure always comes back as NLMSG_ERROR, which becomes a
/// <see cref="LinuxException"/> with the errno and, through NETLINK_EXT_ACK, the kernel's own
/// explanation. A socket stays in the network namespace it was created in.
/// </summary>
internal sealed unsafe class NetlinkSocket : IDisposable
{
    private const int InitialReceiveBuffer = 64 * 1024;
    private const int DumpRetries = 5;

    private readonly object _gate = new();
    private byte[] _receiveBuffer = new byte[InitialReceiveBuffer];
    private readonly SafeFileDescriptor _socket;
    private uint _sequence;

    private NetlinkSocket(SafeFileDescriptor socket, uint portId)
    {
        _socket = socket;
        PortId = portId;
        _sequence = (uint)Environment.TickCount;
    }

    /// <summary>The socket's fd, for calls made under <c>_gate</c>, which <see cref="Dispose"/> takes too.</summary>
    private int Fd => (int)_socket.DangerousGetHandle();

    /// <summary>The port id the kernel bound this socket to.</summary>
    public uint PortId { get; }

    /// <summary>Opens a socket of <paramref name="protocol"/> in the calling thread's network namespace.</summary>
    public static NetlinkSocket Open(int protocol = LinuxNetlink.NETLINK_ROUTE)
    {
        var socket = SafeFileDescriptor.Check(Libc.Socket(LinuxNetlink.AF_NETLINK, LinuxNetlink.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol), "socket(AF_NETLINK)");
        try
        {
            int fd = (int)socket.DangerousGetHandle();
            int one = 1;
            // Extended acks carry the kernel's reason ("Nexthop has invalid gateway"); capped acks
            // keep it from echoing whole requests back. Kernels before 4.12 lack EXT_ACK: fine.
            _ = Libc.SetSockOpt(fd, LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_EXT_ACK, &one, sizeof(int));
            _ = Libc.SetSockOpt(fd, LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_CAP_ACK, &one, sizeof(int));
            var address = new SockaddrNl { nl_family = LinuxNetlink.AF_NETLINK };
            Libc.Check(Libc.Bind(fd, &address, (uint)sizeof(SockaddrNl)), "bind(AF_NETLINK)");
            uint length = (uint)sizeof(SockaddrNl);
            Libc.Check(Libc.GetSockName(fd, &address, &length), "getsockname(AF_NETLINK)");
            return new NetlinkSocket(socket, address.nl_pid);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a socket inside the network namespace at <paramref name="namespacePath"/> (e.g.
    /// /var/run/netns/NAME or /proc/PID/ns/net); it keeps working there from any thread.
    /// </summary>
    public static NetlinkSocket OpenInNamespace(string namespacePath, int protocol = LinuxNetlink.NETLINK_ROUTE) =>
        NetworkNamespace.Run(namespacePath, () => Open(protocol));

    /// <summary>Sends a request that changes state and waits for its acknowledgement.</summary>
    /// <param name="request">The request; NLM_F_REQUEST and NLM_F_ACK are added.</param>
    /// <param name="operation">What the request does, for the exception (e.g. "add route 10.0.0.0/24 dev eth0").</param>
    public void Execute(NetlinkMessageBuilder request, string operation) => Transact(request, operation, dump: false);

    /// <summary>Sends a request for one object (e.g. RTM_GETLINK by name) and returns the replies.</summary>
    public List<NetlinkMessage> Request(NetlinkMessageBuilder request, string operation) => Transact(request, operation, dump: false);

    /// <summary>Sends a dump request (NLM_F_DUMP) and returns every message of every part.</summary>
    public List<NetlinkMessage> Dump(NetlinkMessageBuilder request, string operation)
    {
        request.Flags |= LinuxNetlink.NLM_F_DUMP;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return Transact(request, operation, dump: true);
            }
            catch (DumpInterruptedException) when (attempt < DumpRetries)
            {
                // The table changed while the kernel walked it; the kernel asks us to start over.
            }
            catch (DumpInterruptedException)
            {
                throw new LinuxException($"{operation}: the table kept changing during {DumpRetries} dumps", Errno.EAGAIN);
            }
        }
    }

    private List<NetlinkMessage> Transact(NetlinkMessageBuilder request, string operation, bool dump)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_socket.IsClosed, this);
            uint sequence = ++_sequence;
            request.Flags |= LinuxNetlink.NLM_F_REQUEST | LinuxNetlink.NLM_F_ACK;
            Send(request.Complete(sequence, PortId), operation);

            var replies = new List<NetlinkMessage>();
            bool interrupted = false;
            while (true)
            {
                foreach (var message in NetlinkMessage.ParseAll(Receive(operation)))
                {
                    if (message.Sequence != sequence)
                    {
                        continue; // a leftover of an earlier request that gave up part-way
                    }
                    switch (message.Type)
                    {
                        case LinuxNetlink.NLMSG_ERROR:
                        {
                            var error = NetlinkError.FromErrorMessage(message);
                            if (error.Errno != 0)
                            {
                                throw new LinuxException(operation, error.Errno, error.Message);
                            }
                            return replies;
                        }
                        case LinuxNetlink.NLMSG_DONE:
                        {
                            var error = NetlinkError.FromDoneMessage(message);
                            if (error.Errno != 0)
                            {
                                throw new LinuxException(operation, error.Errno, error.Message);
                            }
                            if (interrupted)
                            {
                                throw new DumpInterruptedException();
                            }
                            return replies;
                        }
                        case LinuxNetlink.NLMSG_NOOP:
                            break;
                        case LinuxNetlink.NLMSG_OVERRUN:
                            throw new LinuxException($"{operation}: netlink overrun", Errno.ENOBUFS);
                        default:
                            interrupted |= (message.Flags & LinuxNetlink.NLM_F_DUMP_INTR) != 0;
                            replies.Add(message);
                            if (!dump && (message.Flags & LinuxNetlink.NLM_F_MULTI) == 0 && (request.Flags & LinuxNetlink.NLM_F_ACK) == 0)
                            {
                                return replies;
                            }
                            break;
                    }
                }
            }
        }
    }

    private void Send(ReadOnlySpan<byte> bytes, string operation)
    {
        var kernel = new SockaddrNl { nl_family = LinuxNetlink.AF_NETLINK };
        fixed (byte* data = bytes)
        {
            while (true)
            {
                nint sent = Libc.SendTo(Fd, data, (nuint)bytes.Length, 0, &kernel, (uint)sizeof(SockaddrNl));
                if (sent >= 0)
                {
                    return;
                }
                var error = LinuxException.FromLastError($"{operation}: send");
                if (error.Errno != Errno.EINTR)
                {
                    throw error;
                }
            }
        }
    }

    /// <summary>Receives one datagram whole: peeks its size first so a big dump part is never cut.</summary>
    private ReadOnlyMemory<byte> Receive(string operation)
    {
        while (true)
        {
            nint size;
            fixed (byte* data = _receiveBuffer)
            {
                size = Libc.Recv(Fd, data, (nuint)_receiveBuffer.Length, Libc.MSG_PEEK | Libc.MSG_TRUNC);
            }
            if (size < 0)
            {
                var error = LinuxException.FromLastError($"{operation}: receive");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                throw error;
            }
            if (size > _receiveBuffer.Length)
            {
                _receiveBuffer = new byte[size];
            }
            fixed (byte* data = _receiveBuffer)
            {
                size = Libc.Recv(Fd, data, (nuint)_receiveBuffer.Length, 0);
            }
            if (size < 0)
            {
                var error = LinuxException.FromLastError($"{operation}: receive");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                throw error;
            }
            // Copy out: the caller keeps the messages after the next receive reuses the buffer.
            return _receiveBuffer.AsSpan(0, (int)size).ToArray();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _socket.Dispose();
        }
    }

    /// <summary>A dump part carried NLM_F_DUMP_INTR: the result may be inconsistent.</summary>
    private sealed class DumpInterruptedException : Exception;
}
