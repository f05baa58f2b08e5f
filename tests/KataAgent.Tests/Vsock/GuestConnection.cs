using KataAgent.Host.Vsock;

namespace KataAgent.Tests.Vsock;

/// <summary>
/// The guest's end of one connection, with the credit rules a Linux guest follows: it sends within the device's
/// credit, counts what it consumed, answers CREDIT_REQUEST, and checks that the device never sends beyond the
/// guest's own credit.
/// </summary>
internal sealed class GuestConnection(FakeVsockGuest guest, uint guestPort, uint hostPort, uint bufAlloc)
{
    private uint _received;
    private uint _lastFwdCntTold;
    private readonly List<byte> _leftover = [];

    public uint GuestPort { get; } = guestPort;

    public uint HostPort { get; } = hostPort;

    public uint BufAlloc { get; } = bufAlloc;

    /// <summary>Bytes the guest consumed (its fwd_cnt).</summary>
    public uint FwdCnt { get; private set; }

    /// <summary>Bytes the guest sent.</summary>
    public uint TxCnt { get; private set; }

    public uint PeerBufAlloc { get; private set; }

    public uint PeerFwdCnt { get; private set; }

    public uint PeerCredit => PeerBufAlloc - (TxCnt - PeerFwdCnt);

    /// <summary>Send a CREDIT_UPDATE whenever this many bytes were consumed since the device last heard (0: only when asked).</summary>
    public uint ProactiveUpdateEvery { get; set; }

    public int CreditRequestsSeen { get; private set; }

    public int CreditUpdatesSeen { get; private set; }

    /// <summary>The guest application read <paramref name="bytes"/> (the device hears of it with the next packet).</summary>
    public void Consumed(int bytes) => FwdCnt += (uint)bytes;

    public bool Mine(VsockPacket packet) => packet.Header.SrcPort == HostPort && packet.Header.DstPort == GuestPort;

    public void Send(VsockOp op, ReadOnlySpan<byte> payload = default, uint flags = 0, int payloadSegments = 1)
    {
        _lastFwdCntTold = FwdCnt;
        guest.Send(FakeVsockGuest.From(GuestPort, HostPort, op, BufAlloc, FwdCnt, flags), payload, payloadSegments);
        if (op == VsockOp.Rw)
        {
            TxCnt += (uint)payload.Length;
        }
    }

    /// <summary>Takes this connection's next packet of <paramref name="op"/>, absorbing credit packets on the way.</summary>
    public async Task<VsockPacket> ExpectAsync(VsockOp op, TimeSpan? timeout = null)
    {
        while (true)
        {
            var packet = await guest.NextAsync(p => Mine(p), timeout, $"{op} for guest port {GuestPort}");
            Observe(packet);
            if (packet.Op == op)
            {
                return packet;
            }
            if (packet.Op is not VsockOp.CreditUpdate and not VsockOp.CreditRequest)
            {
                throw new InvalidOperationException($"expected {op} on guest port {GuestPort}, got {packet}");
            }
        }
    }

    /// <summary>Writes <paramref name="data"/> to the host within the device's credit, waiting for its updates when out.</summary>
    public async Task WriteAsync(byte[] data, int maxPacket = 64 * 1024)
    {
        int offset = 0;
        while (offset < data.Length)
        {
            uint credit = PeerCredit;
            if (credit == 0)
            {
                // Out of credit, as Linux: wait for the device's unsolicited CREDIT_UPDATE.
                var packet = await guest.NextAsync(p => Mine(p) && p.Op is VsockOp.CreditUpdate or VsockOp.Rw or VsockOp.Rst or VsockOp.Shutdown, what: $"credit for guest port {GuestPort}");
                Observe(packet);
                if (packet.Op is VsockOp.Rst)
                {
                    throw new InvalidOperationException($"reset while writing: {packet}");
                }
                continue;
            }
            int length = (int)Math.Min(Math.Min(credit, (uint)maxPacket), (uint)(data.Length - offset));
            Send(VsockOp.Rw, data.AsSpan(offset, length), payloadSegments: length > 4096 ? 2 : 1);
            offset += length;
        }
    }

    /// <summary>Reads <paramref name="count"/> payload bytes, checking the device stays within the guest's credit.</summary>
    public async Task<byte[]> ReadAsync(int count, TimeSpan? timeout = null)
    {
        byte[] data = new byte[count];
        int offset = Math.Min(count, _leftover.Count);
        _leftover.CopyTo(0, data, 0, offset);
        _leftover.RemoveRange(0, offset);
        while (offset < count)
        {
            var packet = await guest.NextAsync(p => Mine(p) && p.Op is VsockOp.Rw or VsockOp.CreditRequest or VsockOp.CreditUpdate or VsockOp.Rst or VsockOp.Shutdown,
                timeout, $"data for guest port {GuestPort} ({offset} of {count} bytes so far)");
            Observe(packet);
            switch (packet.Op)
            {
                case VsockOp.Rw:
                    int take = Math.Min(packet.Payload.Length, count - offset);
                    packet.Payload.AsSpan(0, take).CopyTo(data.AsSpan(offset));
                    _leftover.AddRange(packet.Payload.AsSpan(take).ToArray());
                    offset += take;
                    FwdCnt += (uint)packet.Payload.Length;
                    if (ProactiveUpdateEvery > 0 && FwdCnt - _lastFwdCntTold >= ProactiveUpdateEvery)
                    {
                        Send(VsockOp.CreditUpdate);
                    }
                    break;
                case VsockOp.CreditRequest:
                    Send(VsockOp.CreditUpdate);
                    break;
                case VsockOp.Rst or VsockOp.Shutdown:
                    throw new InvalidOperationException($"{packet.Op} after {offset} of {count} bytes: {packet}");
            }
        }
        return data;
    }

    /// <summary>Absorbs the device's credit and checks it never sent beyond ours.</summary>
    public void Observe(VsockPacket packet)
    {
        PeerBufAlloc = packet.Header.BufAlloc;
        PeerFwdCnt = packet.Header.FwdCnt;
        switch (packet.Op)
        {
            case VsockOp.Rw:
                _received += packet.Header.Len;
                if (_received - _lastFwdCntTold > BufAlloc)
                {
                    throw new InvalidOperationException($"the device sent {_received - _lastFwdCntTold} bytes in flight, beyond the guest's buf_alloc {BufAlloc}");
                }
                break;
            case VsockOp.CreditRequest:
                CreditRequestsSeen++;
                break;
            case VsockOp.CreditUpdate:
                CreditUpdatesSeen++;
                break;
        }
    }
}
