using System.Net.Sockets;
using KataAgent.Host.Vsock;

namespace KataAgent.Tests.Vsock;

/// <summary>
/// Plays the guest's virtio-vsock driver against a <see cref="VirtioVsockDevice"/> over two
/// <see cref="FakeVirtqueue"/>s: posts rx buffers, puts tx packets and kicks, reads what the device sent back.
/// </summary>
internal sealed class FakeVsockGuest : IDisposable
{
    public const ulong Cid = 3;
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _directory = new();
    private readonly List<VsockPacket> _inbox = [];
    private readonly object _gate = new();
    private readonly object _collecting = new();

    public FakeVsockGuest(Func<VirtioVsockDeviceOptions, VirtioVsockDeviceOptions>? configure = null, bool start = true)
    {
        HybridPath = _directory.File("vm.sock");
        var options = new VirtioVsockDeviceOptions
        {
            GuestCid = Cid,
            HybridSocketPath = HybridPath,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ShutdownTimeout = TimeSpan.FromSeconds(2),
            HandshakeTimeout = TimeSpan.FromSeconds(2),
            Log = Log,
        };
        Device = new VirtioVsockDevice(configure is null ? options : configure(options));
        if (start)
        {
            Start();
        }
    }

    public VirtioVsockDevice Device { get; }

    public FakeVirtqueue Rx { get; private set; } = new(0);

    public FakeVirtqueue Tx { get; private set; } = new(1);

    public string HybridPath { get; }

    public StringWriter Log { get; } = new();

    /// <summary>Every packet the device sent, in order (what the credit checks look at).</summary>
    public List<VsockPacket> History { get; } = [];

    public TempDirectory Directory => _directory;

    /// <summary>Fresh queues and Start, as after a guest (re)boot.</summary>
    public void Start()
    {
        Rx = new FakeVirtqueue(0);
        Tx = new FakeVirtqueue(1);
        Device.SetAcknowledgedFeatures((1UL << 32) | VirtioVsockDevice.FeatureStream);
        Device.Start([Rx, Tx]);
    }

    /// <summary>Posts <paramref name="count"/> rx buffers of <paramref name="size"/> bytes (header included); split puts the header in its own descriptor, as older Linux does.</summary>
    public void PostRx(int count, int size = 4096 + VsockPacketHeader.Size, bool split = false)
    {
        for (int i = 0; i < count; i++)
        {
            Memory<byte>[] writable = split
                ? [new byte[VsockPacketHeader.Size], new byte[size - VsockPacketHeader.Size]]
                : [new byte[size]];
            Rx.Post([], writable);
        }
        Device.Kick(0);
    }

    /// <summary>Puts one packet on the tx queue and kicks; the payload rides in its own descriptor(s).</summary>
    public void Send(VsockPacketHeader header, ReadOnlySpan<byte> payload = default, int payloadSegments = 1)
    {
        header.Len = (uint)payload.Length;
        byte[] raw = new byte[VsockPacketHeader.Size];
        header.Write(raw);
        var readable = new List<Memory<byte>> { raw };
        if (!payload.IsEmpty)
        {
            int per = (payload.Length + payloadSegments - 1) / payloadSegments;
            for (int offset = 0; offset < payload.Length; offset += per)
            {
                readable.Add(payload.Slice(offset, Math.Min(per, payload.Length - offset)).ToArray());
            }
        }
        Tx.Post([.. readable], []);
        Device.Kick(1);
    }

    /// <summary>A header from the guest's <paramref name="guestPort"/> to host port <paramref name="hostPort"/>.</summary>
    public static VsockPacketHeader From(uint guestPort, uint hostPort, VsockOp op, uint bufAlloc = 256 * 1024, uint fwdCnt = 0, uint flags = 0) => new()
    {
        SrcCid = Cid,
        DstCid = VirtioVsockDevice.HostCid,
        SrcPort = guestPort,
        DstPort = hostPort,
        Type = VsockPacketHeader.TypeStream,
        Op = op,
        Flags = flags,
        BufAlloc = bufAlloc,
        FwdCnt = fwdCnt,
    };

    /// <summary>
    /// Moves completed rx chains into the inbox, in the order the device completed them. A connection's reader and
    /// writer collect from two threads: the drain and the append are one step, or one thread's later batch could land
    /// in the inbox before another's earlier one and a stream would read its bytes out of order.
    /// </summary>
    public void Collect()
    {
        lock (_collecting)
        {
            CollectInOrder();
        }
    }

    private void CollectInOrder()
    {
        foreach (var (chain, bytes) in Rx.DrainUsed())
        {
            byte[] all = new byte[bytes];
            int offset = 0;
            foreach (var segment in chain.Writable)
            {
                int take = Math.Min(segment.Length, all.Length - offset);
                segment.Span[..take].CopyTo(all.AsSpan(offset));
                offset += take;
                if (offset == all.Length)
                {
                    break;
                }
            }
            if (bytes < VsockPacketHeader.Size)
            {
                throw new InvalidOperationException($"the device completed an rx chain with {bytes} bytes, less than a header");
            }
            var header = VsockPacketHeader.Read(all);
            if (header.Len != bytes - VsockPacketHeader.Size)
            {
                throw new InvalidOperationException($"rx packet {header} claims {header.Len} payload bytes, completed with {bytes}");
            }
            var packet = new VsockPacket(header, all[VsockPacketHeader.Size..]);
            lock (_gate)
            {
                _inbox.Add(packet);
                History.Add(packet);
            }
        }
    }

    /// <summary>Waits for the first packet matching <paramref name="match"/> and takes it out of the inbox.</summary>
    public async Task<VsockPacket> NextAsync(Func<VsockPacket, bool> match, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Patience);
        while (true)
        {
            Collect();
            lock (_gate)
            {
                int index = _inbox.FindIndex(p => match(p));
                if (index >= 0)
                {
                    var packet = _inbox[index];
                    _inbox.RemoveAt(index);
                    return packet;
                }
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                lock (_gate)
                {
                    throw new TimeoutException($"no {what ?? "matching packet"} from the device; inbox: [{string.Join("; ", _inbox)}]\nlog:\n{Log}");
                }
            }
            await Rx.WaitNotifiedAsync(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>The packets in the inbox now (after collecting), without taking them.</summary>
    public List<VsockPacket> Peek()
    {
        Collect();
        lock (_gate)
        {
            return [.. _inbox];
        }
    }

    /// <summary>Connects a unix socket client to the hybrid socket.</summary>
    public async Task<Socket> ConnectHybridAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(HybridPath));
        return socket;
    }

    public void Dispose()
    {
        Device.Dispose();
        _directory.Dispose();
    }
}
