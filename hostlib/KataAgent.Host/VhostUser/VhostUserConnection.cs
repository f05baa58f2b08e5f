using System.Buffers.Binary;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// One front-end (qemu) connection: its control messages, its memory table, its rings, and the device started and
/// stopped over them. Everything here runs on the server's loop thread; <see cref="Run"/> polls the socket, the
/// started rings' kick eventfds and the server's wake eventfd, and returns when the front-end goes away or the
/// server is disposed. Disposing stops the device if it runs, unmaps guest memory and closes every fd the
/// front-end passed.
/// </summary>
internal sealed partial class VhostUserConnection : IDisposable
{
    private readonly IVhostUserDevice _device;
    private readonly VhostUserChannel _channel;
    private readonly int _wakeFd;
    private readonly TextWriter? _log;
    private readonly VhostUserVring[] _vrings;
    private readonly ulong _offeredFeatures;
    private ulong _ackedFeatures;
    private ulong _protocolFeatures;

    /// <summary>Serves <paramref name="socket"/> (owned from now on); <paramref name="wakeFd"/> is the server's wake eventfd, borrowed.</summary>
    public VhostUserConnection(SafeFileDescriptor socket, int wakeFd, IVhostUserDevice device, TextWriter? log)
    {
        _channel = new VhostUserChannel(socket, wakeFd);
        _wakeFd = wakeFd;
        _device = device;
        _log = log;
        _vrings = new VhostUserVring[device.QueueCount];
        for (int i = 0; i < _vrings.Length; i++)
        {
            _vrings[i] = new VhostUserVring(i);
        }
        _offeredFeatures = OfferedFeatures(device);
    }

    /// <summary>GET_FEATURES: the device's own bits, VERSION_1, PROTOCOL_FEATURES and what the rings implement (EVENT_IDX).</summary>
    public static ulong OfferedFeatures(IVhostUserDevice device) =>
        (device.DeviceFeatures & VhostUserFeatures.DeviceTypeMask)
        | VhostUserFeatures.Version1 | VhostUserFeatures.ProtocolFeatures | VhostUserFeatures.EventIndex;

    /// <summary>Serves the connection until the front-end closes it (or resets it) or the server is disposed.</summary>
    /// <exception cref="VhostUserProtocolException">The front-end sent a malformed message: the caller closes the connection.</exception>
    public unsafe void Run()
    {
        var fds = new Libc.PollFd[2 + _vrings.Length];
        var kickRings = new int[_vrings.Length];
        while (true)
        {
            fds[0] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = _channel.Fd, Events = Libc.POLLIN };
            int count = 2;
            if (_started)
            {
                foreach (var vring in _vrings)
                {
                    kickRings[count - 2] = vring.Index;
                    fds[count++] = new Libc.PollFd { Fd = (int)vring.Kick!.DangerousGetHandle(), Events = Libc.POLLIN };
                }
            }
            fixed (Libc.PollFd* poll = fds)
            {
                if (Libc.Poll(poll, (nuint)count, -1) < 0)
                {
                    var error = LinuxException.FromLastError("poll of a vhost-user connection");
                    if (error.Errno == Errno.EINTR)
                    {
                        continue;
                    }
                    throw error;
                }
            }
            if (fds[0].Revents != 0)
            {
                return;
            }
            for (int i = 2; i < count && _started; i++)
            {
                if (fds[i].Revents != 0)
                {
                    var vring = _vrings[kickRings[i - 2]];
                    Libc.EventFdRead((int)vring.Kick!.DangerousGetHandle());
                    KickDevice(vring.Index);
                }
            }
            if (fds[1].Revents != 0)
            {
                using var message = _channel.Receive();
                if (message is null)
                {
                    return;
                }
                Dispatch(message);
            }
        }
    }

    public void Dispose()
    {
        StopDevice("the front-end disconnected");
        foreach (var vring in _vrings)
        {
            vring.Dispose();
        }
        ReplaceMemory(null);
        _channel.Dispose();
    }

    private void Dispatch(VhostUserMessage message)
    {
        switch (message.Request)
        {
            case VhostUserRequest.GetFeatures:
                message.ExpectEmpty();
                ReplyU64(message, _offeredFeatures);
                break;
            case VhostUserRequest.SetFeatures:
                Acknowledge(message, SetFeatures(message.ReadU64()));
                break;
            case VhostUserRequest.GetProtocolFeatures:
                message.ExpectEmpty();
                ReplyU64(message, VhostUserFeatures.OfferedProtocolFeatures);
                break;
            case VhostUserRequest.SetProtocolFeatures:
                Acknowledge(message, SetProtocolFeatures(message.ReadU64()));
                break;
            case VhostUserRequest.GetQueueNum:
                message.ExpectEmpty();
                ReplyU64(message, (ulong)_vrings.Length);
                break;
            case VhostUserRequest.SetOwner:
                message.ExpectEmpty();
                Acknowledge(message, true);
                break;
            case VhostUserRequest.ResetOwner:
                message.ExpectEmpty();
                ResetOwner();
                Acknowledge(message, true);
                break;
            case VhostUserRequest.SetMemTable:
                Acknowledge(message, SetMemTable(message));
                break;
            case VhostUserRequest.SetVringNum:
                Acknowledge(message, SetVringNum(message.ReadVringState()));
                break;
            case VhostUserRequest.SetVringAddr:
                Acknowledge(message, SetVringAddr(message.ReadVringAddress()));
                break;
            case VhostUserRequest.SetVringBase:
                Acknowledge(message, SetVringBase(message.ReadVringState()));
                break;
            case VhostUserRequest.GetVringBase:
                GetVringBase(message);
                break;
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                Acknowledge(message, SetVringFd(message));
                break;
            case VhostUserRequest.SetVringEnable:
                Acknowledge(message, SetVringEnable(message.ReadVringState()));
                break;
            case VhostUserRequest.GetConfig:
                GetConfig(message);
                break;
            default:
                Unsupported(message);
                break;
        }
    }

    private bool SetFeatures(ulong features)
    {
        ulong unknown = features & ~_offeredFeatures;
        if (unknown != 0)
        {
            Log($"SET_FEATURES 0x{features:x} acknowledges bits never offered (0x{unknown:x}; offered 0x{_offeredFeatures:x}): refused");
            return false;
        }
        _ackedFeatures = features;
        _device.SetAcknowledgedFeatures(features);
        return true;
    }

    private bool SetProtocolFeatures(ulong features)
    {
        ulong unknown = features & ~VhostUserFeatures.OfferedProtocolFeatures;
        if (unknown != 0)
        {
            Log($"SET_PROTOCOL_FEATURES 0x{features:x} acknowledges protocol features never offered (0x{unknown:x}): refused");
            return false;
        }
        _protocolFeatures = features;
        return true;
    }

    private void GetConfig(VhostUserMessage message)
    {
        var request = message.ReadConfigRequest();
        var config = _device.Config;
        if (request.Size == 0 || (ulong)request.Offset + request.Size > (ulong)config.Length)
        {
            // A reply without payload is how a back-end says no (qemu: "Received bad msg size").
            Log($"GET_CONFIG of {request.Size} bytes at offset {request.Offset} is outside the device's {config.Length}-byte config space: refused");
            _channel.SendReply(message.Request, []);
            return;
        }
        Span<byte> reply = stackalloc byte[ConfigRequest.HeaderLength + (int)request.Size];
        request.Write(reply);
        config.Slice((int)request.Offset, (int)request.Size).CopyTo(reply[ConfigRequest.HeaderLength..]);
        _channel.SendReply(message.Request, reply);
    }

    private void Unsupported(VhostUserMessage message)
    {
        Log($"request {(uint)message.Request} ({message.Request.Name()}, {message.Payload.Length} payload bytes, {message.FdCount} fds) is not supported: "
            + (message.Header.NeedsReply ? "answered with a failure" : "ignored"));
        Acknowledge(message, false);
    }

    private void ReplyU64(VhostUserMessage message, ulong value)
    {
        Span<byte> payload = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);
        _channel.SendReply(message.Request, payload);
    }

    /// <summary>REPLY_ACK: a u64 status (0 success) for a request without a reply of its own, when the front-end asked for one.</summary>
    private void Acknowledge(VhostUserMessage message, bool success)
    {
        if (message.Header.NeedsReply)
        {
            ReplyU64(message, success ? 0UL : 1UL);
        }
    }

    private void Log(string line) => _log?.WriteLine($"vhost-user: {line}");
}
