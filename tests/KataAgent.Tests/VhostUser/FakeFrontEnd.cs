using System.Buffers.Binary;
using System.Text;
using KataAgent.Host.VhostUser;
using KataAgent.Linux.Interop;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// The test's qemu: a vhost-user client on the server's socket that sends real messages (fds as SCM_RIGHTS on the
/// header's first byte, as qemu's one sendmsg does) and reads the replies with a deadline.
/// </summary>
internal sealed unsafe class FakeFrontEnd : IDisposable
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly SafeFileDescriptor _socket;

    private FakeFrontEnd(SafeFileDescriptor socket) => _socket = socket;

    public int Fd => (int)_socket.DangerousGetHandle();

    public static FakeFrontEnd Connect(string path)
    {
        var socket = SafeFileDescriptor.Check(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket");
        byte[] bytes = Encoding.UTF8.GetBytes(path);
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        *(ushort*)address = Libc.AF_UNIX;
        bytes.CopyTo(new Span<byte>(address + 2, 108));
        Libc.Check(Libc.Connect((int)socket.DangerousGetHandle(), address, (uint)(2 + bytes.Length + 1)), $"connect {path}");
        return new FakeFrontEnd(socket);
    }

    /// <summary>Sends one message: header, payload and <paramref name="fds"/> in a single sendmsg.</summary>
    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, int[]? fds = null, bool needReply = false, uint? flags = null, uint? size = null)
    {
        byte[] message = new byte[VhostUserHeader.Length + payload.Length];
        new VhostUserHeader(request, flags ?? (VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReplyFlag : 0)), size ?? (uint)payload.Length).Write(message);
        payload.CopyTo(message.AsSpan(VhostUserHeader.Length));
        fds ??= [];
        int controlSize = fds.Length == 0 ? 0 : Libc.CmsgSpace(fds.Length * sizeof(int));
        byte* control = stackalloc byte[Math.Max(controlSize, 1)];
        if (fds.Length > 0)
        {
            new Span<byte>(control, controlSize).Clear();
            var header = (Libc.CmsgHdr*)control;
            header->Length = (nuint)Libc.CmsgLength(fds.Length * sizeof(int));
            header->Level = Libc.SOL_SOCKET;
            header->Type = Libc.SCM_RIGHTS;
            for (int i = 0; i < fds.Length; i++)
            {
                ((int*)(header + 1))[i] = fds[i];
            }
        }
        fixed (byte* data = message)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)message.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = fds.Length > 0 ? control : null, ControlLength = (nuint)controlSize };
            nint sent = Libc.Check(Libc.SendMsg(Fd, &msg, Libc.MSG_NOSIGNAL), $"sendmsg {request}");
            if (sent != message.Length)
            {
                throw new IOException($"sendmsg {request}: {sent} of {message.Length} bytes");
            }
        }
    }

    /// <summary>Reads one reply and checks its header: the request it answers, flags version 1 | REPLY.</summary>
    public byte[] ReadReply(VhostUserRequest request)
    {
        Span<byte> header = stackalloc byte[VhostUserHeader.Length];
        ReadExactly(header);
        var decoded = VhostUserHeader.Read(header);
        if (decoded.Request != request || decoded.Flags != (VhostUserHeader.Version | VhostUserHeader.ReplyFlag))
        {
            throw new InvalidDataException($"expected a reply to {request}, got {decoded}");
        }
        var payload = new byte[decoded.Size];
        ReadExactly(payload);
        return payload;
    }

    public ulong ReadU64Reply(VhostUserRequest request)
    {
        var payload = ReadReply(request);
        if (payload.Length != 8)
        {
            throw new InvalidDataException($"{request}: a {payload.Length}-byte reply, not a u64");
        }
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    /// <summary>A request answered with a u64 (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM).</summary>
    public ulong GetU64(VhostUserRequest request)
    {
        Send(request, []);
        return ReadU64Reply(request);
    }

    /// <summary>A request carrying a u64; with <paramref name="needReply"/> the REPLY_ACK status is returned, else null.</summary>
    public ulong? SetU64(VhostUserRequest request, ulong value, bool needReply = false, int[]? fds = null)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);
        Send(request, payload, fds, needReply);
        return needReply ? ReadU64Reply(request) : null;
    }

    public ulong? SetState(VhostUserRequest request, uint index, uint num, bool needReply = false)
    {
        Span<byte> payload = stackalloc byte[VringState.Length];
        new VringState(index, num).Write(payload);
        Send(request, payload, null, needReply);
        return needReply ? ReadU64Reply(request) : null;
    }

    public VringState GetVringBase(uint index)
    {
        Span<byte> payload = stackalloc byte[VringState.Length];
        new VringState(index, 0).Write(payload);
        Send(VhostUserRequest.GetVringBase, payload);
        return VringState.Read(ReadReply(VhostUserRequest.GetVringBase));
    }

    public ulong? SetVringAddress(VringAddress address, bool needReply = false)
    {
        Span<byte> payload = stackalloc byte[VringAddress.Length];
        address.Write(payload);
        Send(VhostUserRequest.SetVringAddr, payload, null, needReply);
        return needReply ? ReadU64Reply(VhostUserRequest.SetVringAddr) : null;
    }

    /// <summary>SET_VRING_KICK/CALL/ERR for ring <paramref name="index"/> with <paramref name="fd"/> (-1: the no-fd bit).</summary>
    public ulong? SetVringFd(VhostUserRequest request, uint index, int fd, bool needReply = false) =>
        fd < 0 ? SetU64(request, index | (1UL << 8), needReply) : SetU64(request, index, needReply, [fd]);

    /// <summary>SET_MEM_TABLE with NEED_REPLY, as qemu 7.2 sends it once REPLY_ACK is negotiated; returns the ack.</summary>
    public ulong SetMemTable(IReadOnlyList<(MemoryRegionDescription Region, int Fd)> regions)
    {
        var payload = new byte[8 + (regions.Count * MemoryRegionDescription.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)regions.Count);
        for (int i = 0; i < regions.Count; i++)
        {
            regions[i].Region.Write(payload.AsSpan(8 + (i * MemoryRegionDescription.Length)));
        }
        Send(VhostUserRequest.SetMemTable, payload, regions.Select(r => r.Fd).ToArray(), needReply: true);
        return ReadU64Reply(VhostUserRequest.SetMemTable);
    }

    /// <summary>GET_CONFIG as qemu sends it: the header and <paramref name="size"/> zero bytes; the reply's payload.</summary>
    public byte[] GetConfig(uint offset, uint size)
    {
        var payload = new byte[ConfigRequest.HeaderLength + size];
        new ConfigRequest(offset, size, 0).Write(payload);
        Send(VhostUserRequest.GetConfig, payload);
        return ReadReply(VhostUserRequest.GetConfig);
    }

    /// <summary>Whether the server closed the connection within <paramref name="timeout"/> (EOF, nothing else pending).</summary>
    public bool WaitClosed(TimeSpan timeout)
    {
        var poll = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        if (Libc.Poll(&poll, 1, (int)timeout.TotalMilliseconds) <= 0)
        {
            return false;
        }
        byte b;
        return Libc.Recv(Fd, &b, 1, Libc.MSG_DONTWAIT) == 0;
    }

    /// <summary>Whether any byte is waiting to be read (a reply nobody asked for).</summary>
    public bool HasPendingBytes(TimeSpan wait)
    {
        var poll = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        return Libc.Poll(&poll, 1, (int)wait.TotalMilliseconds) > 0;
    }

    public void Dispose() => _socket.Dispose();

    private void ReadExactly(Span<byte> buffer)
    {
        int got = 0;
        var deadline = DateTime.UtcNow + ReplyTimeout;
        fixed (byte* data = buffer)
        {
            while (got < buffer.Length)
            {
                var poll = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
                int left = (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds);
                if (Libc.Poll(&poll, 1, left) == 0)
                {
                    throw new TimeoutException($"no reply within {ReplyTimeout}");
                }
                nint n = Libc.Recv(Fd, data + got, (nuint)(buffer.Length - got), 0);
                if (n == 0)
                {
                    throw new EndOfStreamException("the server closed the connection");
                }
                if (n < 0)
                {
                    throw LinuxException.FromLastError("recv reply");
                }
                got += (int)n;
            }
        }
    }
}
