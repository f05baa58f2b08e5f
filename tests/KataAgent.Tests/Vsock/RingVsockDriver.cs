using FluentAssertions;
using KataAgent.Host.VhostUser;
using KataAgent.Host.Vsock;
using KataAgent.Tests.VhostUser;

namespace KataAgent.Tests.Vsock;

/// <summary>
/// qemu and the guest's virtio-vsock driver against a real <see cref="VhostUserVsockBackend"/>: vhost-user
/// messages over its socket (the VhostUser tests' <see cref="FakeFrontEnd"/>), guest RAM in a memfd, split rings
/// laid out in it, kicks and calls through eventfds. Rx buffers are 4 KiB plus the header, as Linux posts them,
/// and are posted again once read.
/// </summary>
internal sealed unsafe class RingVsockDriver : IDisposable
{
    public const ushort QueueSize = 128;
    public const int RxBuffers = 64;
    public const int RxBufferSize = VsockPacketHeader.Size + 4096;
    public const int TxSlots = 15;
    public const int TxSlotSize = 0x1_0040;
    public const ulong DriverFeatures = VhostUserFeatures.Version1 | VhostUserFeatures.ProtocolFeatures | VhostUserFeatures.EventIndex | VirtioVsockDevice.FeatureStream;

    private const ulong RxArea = 0x1_0000;
    private const ulong TxArea = 0x10_0000;

    private readonly Dictionary<ushort, ulong> _rxPosted = [];
    private readonly ushort[] _txHeads = new ushort[TxSlots];
    private readonly ushort?[] _txSlotUsedAt = new ushort?[TxSlots];
    private ushort _rxSeen;
    private ushort _txPosted;
    private int _nextTxSlot;

    public RingVsockDriver(string vhostUserSocket)
    {
        Guest = new TestGuest();
        Rx = new TestRing(Guest, 0, QueueSize, 0x1000);
        Tx = new TestRing(Guest, 1, QueueSize, 0x4000);
        Qemu = FakeFrontEnd.Connect(vhostUserSocket);
    }

    public TestGuest Guest { get; }

    public TestRing Rx { get; }

    public TestRing Tx { get; }

    public FakeFrontEnd Qemu { get; }

    public TestEventFd[] Kicks { get; } = [new(), new()];

    public TestEventFd[] Calls { get; } = [new(), new()];

    public TestEventFd[] Errs { get; } = [new(), new()];

    /// <summary>qemu's realize sequence; returns the guest CID GET_CONFIG answered.</summary>
    public ulong Realize()
    {
        ulong features = Qemu.GetU64(VhostUserRequest.GetFeatures);
        (features & 0xff_ffff).Should().Be(VirtioVsockDevice.FeatureStream, "the device type's bits: STREAM, never SEQPACKET");
        (features & DriverFeatures).Should().Be(DriverFeatures);
        Qemu.GetU64(VhostUserRequest.GetProtocolFeatures).Should().Be(0x209UL);
        Qemu.SetU64(VhostUserRequest.SetProtocolFeatures, 0x209);
        Qemu.GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
        Qemu.Send(VhostUserRequest.SetOwner, []);
        for (uint i = 0; i < 2; i++)
        {
            Qemu.SetVringFd(VhostUserRequest.SetVringCall, i, Calls[i].Fd);
            Qemu.SetVringFd(VhostUserRequest.SetVringErr, i, Errs[i].Fd);
        }
        byte[] config = Qemu.GetConfig(0, 8);
        return BitConverter.ToUInt64(config, ConfigRequest.HeaderLength);
    }

    /// <summary>The driver's start (DRIVER_OK), then its rx buffers posted and kicked, as Linux's probe does.</summary>
    public void StartDriver()
    {
        Qemu.SetU64(VhostUserRequest.SetFeatures, DriverFeatures);
        Qemu.SetMemTable(Guest.Table()).Should().Be(0UL);
        for (int i = 0; i < 2; i++)
        {
            var ring = i == 0 ? Rx : Tx;
            Qemu.SetState(VhostUserRequest.SetVringNum, (uint)i, QueueSize);
            Qemu.SetState(VhostUserRequest.SetVringBase, (uint)i, 0);
            Qemu.SetVringAddress(ring.Address);
            Qemu.SetVringFd(VhostUserRequest.SetVringKick, (uint)i, Kicks[i].Fd);
        }
        // Linux posts with used_event 0 and no suppression: it wants every interrupt.
        for (int i = 0; i < RxBuffers; i++)
        {
            ulong address = RxArea + (ulong)(i * RxBufferSize);
            _rxPosted[Rx.Post((address, RxBufferSize, true))] = address;
        }
        Qemu.SetState(VhostUserRequest.SetVringEnable, 0, 1);
        Qemu.SetState(VhostUserRequest.SetVringEnable, 1, 1);
        Kicks[0].Signal();
        // A request with a reply as a barrier: the server handled the enables, so the device runs (a hybrid
        // client before that is refused, by design).
        Qemu.GetU64(VhostUserRequest.GetFeatures);
    }

    /// <summary>Guest poweroff: the rings stop (the device with them).</summary>
    public void ResetDriver()
    {
        Qemu.SetState(VhostUserRequest.SetVringEnable, 0, 0);
        Qemu.SetState(VhostUserRequest.SetVringEnable, 1, 0);
        Qemu.GetVringBase(0);
        Qemu.GetVringBase(1);
    }

    /// <summary>The packets the device completed since the last call, each buffer posted again (and rx kicked).</summary>
    public List<VsockPacket> ReadRx()
    {
        var packets = new List<VsockPacket>();
        ushort used = Rx.UsedIndex;
        while (_rxSeen != used)
        {
            var (id, length) = Rx.UsedElement(_rxSeen);
            ulong address = _rxPosted[(ushort)id];
            _rxPosted.Remove((ushort)id);
            length.Should().BeGreaterThanOrEqualTo((uint)VsockPacketHeader.Size);
            // The rx area lies inside the first region: one contiguous copy.
            byte[] raw = new Span<byte>(Guest.Host(address), (int)length).ToArray();
            var header = VsockPacketHeader.Read(raw);
            header.Len.Should().Be(length - VsockPacketHeader.Size);
            packets.Add(new VsockPacket(header, raw[VsockPacketHeader.Size..]));
            _rxPosted[Rx.Post((address, RxBufferSize, true))] = address;
            _rxSeen++;
        }
        // As Linux's virtqueue_enable_cb: interrupt me at the next used entry.
        Rx.UsedEvent = _rxSeen;
        if (packets.Count > 0)
        {
            Kicks[0].Signal();
        }
        return packets;
    }

    /// <summary>Puts a packet on tx (header and payload in two descriptors, as Linux) and kicks; waits only for a free slot.</summary>
    public void SendTx(VsockPacketHeader header, ReadOnlySpan<byte> payload = default)
    {
        int slot = _nextTxSlot;
        _nextTxSlot = (_nextTxSlot + 1) % TxSlots;
        if (_txSlotUsedAt[slot] is ushort mustPass)
        {
            // The slot's previous packet must be consumed before its memory is reused (tx completes in order).
            var spin = new SpinWait();
            var deadline = DateTime.UtcNow + FakeFrontEnd.ReplyTimeout;
            while ((short)(Tx.UsedIndex - mustPass) <= 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("the device never consumed a tx packet");
                }
                spin.SpinOnce();
            }
        }
        ulong address = TxArea + (ulong)(slot * TxSlotSize);
        header.Len = (uint)payload.Length;
        byte[] raw = new byte[VsockPacketHeader.Size];
        header.Write(raw);
        Guest.Write(address, raw);
        if (payload.IsEmpty)
        {
            _txHeads[slot] = Tx.Post((address, VsockPacketHeader.Size, false));
        }
        else
        {
            payload.CopyTo(new Span<byte>(Guest.Host(address + 64), payload.Length));
            _txHeads[slot] = Tx.Post((address, VsockPacketHeader.Size, false), (address + 64, (uint)payload.Length, false));
        }
        _txPosted++;
        _txSlotUsedAt[slot] = _txPosted;
        Kicks[1].Signal();
    }

    /// <summary>Waits until every tx packet posted was consumed.</summary>
    public void WaitTxDrained() => TestSession.WaitUntil(() => Tx.UsedIndex == _txPosted, "tx consumed");

    /// <summary>Reads rx until <paramref name="match"/> holds for a packet; returns it and keeps none of the others.</summary>
    public VsockPacket WaitFor(Func<VsockPacket, bool> match, string what, List<VsockPacket>? others = null)
    {
        var deadline = DateTime.UtcNow + FakeFrontEnd.ReplyTimeout;
        while (true)
        {
            foreach (var packet in ReadRx())
            {
                if (match(packet))
                {
                    return packet;
                }
                others?.Add(packet);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {what} on the rx ring");
            }
            Calls[0].Wait(TimeSpan.FromMilliseconds(20));
        }
    }

    public void Dispose()
    {
        Qemu.Dispose();
        Guest.Dispose();
        foreach (var fd in Kicks.Concat(Calls).Concat(Errs))
        {
            fd.Dispose();
        }
    }
}
