using System.Net.Sockets;
using KataAgent.Host.VhostUser;

namespace KataAgent.Host.Vsock;

internal sealed partial class VirtioVsockDevice
{
    /// <summary>Fills posted rx buffers while packets wait: resets, control packets, then data. Under the lock.</summary>
    private void PumpRx()
    {
        if (!CanUseQueues)
        {
            return;
        }
        var rx = _rx!;
        bool completed = false;
        try
        {
            while (DropStaleHeads() && rx.TryTake(out var chain))
            {
                rx.Complete(chain, (uint)FillRx(chain));
                completed = true;
            }
        }
        catch (VirtqueueException e)
        {
            QueueBroken(e);
        }
        if (completed)
        {
            rx.NotifyDriver();
        }
    }

    /// <summary>Drops queue heads that no longer owe anything, so that a chain is only taken for a packet; true when one waits.</summary>
    private bool DropStaleHeads()
    {
        if (_resets.Count > 0)
        {
            return true;
        }
        while (_controlQueue.TryPeek(out var connection) && (connection.Closed || connection.Pending == VsockPendingControl.None))
        {
            _controlQueue.Dequeue().InControlQueue = false;
        }
        if (_controlQueue.Count > 0)
        {
            return true;
        }
        while (_dataQueue.TryPeek(out var connection) && !CanSendData(connection))
        {
            _dataQueue.Dequeue().InDataQueue = false;
        }
        return _dataQueue.Count > 0;
    }

    /// <summary>Writes one packet into <paramref name="chain"/>; returns the bytes written (header plus payload).</summary>
    private int FillRx(VirtqueueChain chain)
    {
        if (chain.WritableLength < VsockPacketHeader.Size)
        {
            // A buffer that cannot hold a header is unusable; the driver gets it back empty.
            return 0;
        }
        if (_resets.TryDequeue(out var reset))
        {
            return WriteHeader(chain, reset);
        }
        while (_controlQueue.TryDequeue(out var connection))
        {
            connection.InControlQueue = false;
            if (!connection.Closed && connection.Pending != VsockPendingControl.None)
            {
                return WriteControl(connection, chain);
            }
        }
        VsockConnection? wouldBlock = null;
        while (_dataQueue.TryDequeue(out var connection))
        {
            connection.InDataQueue = false;
            if (!CanSendData(connection))
            {
                continue;
            }
            int written = WriteData(connection, chain);
            if (written > 0)
            {
                return written;
            }
            wouldBlock = connection;
        }
        if (wouldBlock is not null && !wouldBlock.Closed)
        {
            // The socket said readable, then had nothing: the chain is taken, so it carries a credit update
            // instead, which tells the guest nothing new but costs it nothing either.
            return WriteHeader(chain, HeaderFor(wouldBlock, VsockOp.CreditUpdate));
        }
        return 0;
    }

    private int WriteControl(VsockConnection connection, VirtqueueChain chain)
    {
        var pending = connection.Pending;
        VsockOp op;
        uint flags = 0;
        VsockPendingControl sent;
        if ((pending & VsockPendingControl.Response) != 0)
        {
            (op, sent) = (VsockOp.Response, VsockPendingControl.Response);
        }
        else if ((pending & VsockPendingControl.Request) != 0)
        {
            (op, sent) = (VsockOp.Request, VsockPendingControl.Request);
        }
        else if ((pending & VsockPendingControl.Shutdown) != 0)
        {
            (op, sent, flags) = (VsockOp.Shutdown, VsockPendingControl.Shutdown, (uint)connection.LocalShutdown);
        }
        else if ((pending & VsockPendingControl.CreditRequest) != 0)
        {
            (op, sent) = (VsockOp.CreditRequest, VsockPendingControl.CreditRequest);
        }
        else
        {
            (op, sent) = (VsockOp.CreditUpdate, VsockPendingControl.CreditUpdate);
        }
        connection.Pending &= ~sent;
        if (connection.Pending != VsockPendingControl.None)
        {
            connection.InControlQueue = true;
            _controlQueue.Enqueue(connection);
        }
        var header = HeaderFor(connection, op);
        header.Flags = flags;
        return WriteHeader(chain, header);
    }

    /// <summary>
    /// Reads host socket bytes straight into the guest's buffer, as much as the buffer, the guest's credit and
    /// <see cref="MaxPayload"/> allow. Returns 0 when the socket had nothing after all.
    /// </summary>
    private int WriteData(VsockConnection connection, VirtqueueChain chain)
    {
        uint credit = connection.PeerCredit;
        int room = Math.Min(Math.Min(chain.WritableLength - VsockPacketHeader.Size, MaxPayload), (int)Math.Min(credit, int.MaxValue));
        if (room <= 0)
        {
            // No room for payload in this chain (a header-only buffer): try again with the next one.
            QueueData(connection);
            return 0;
        }

        int received = ReceiveInto(connection.Socket, chain, VsockPacketHeader.Size, room, out var error, out bool drained);
        if (received > 0)
        {
            connection.RxCnt += (uint)received;
            var header = HeaderFor(connection, VsockOp.Rw);
            header.Len = (uint)received;
            WriteHeader(chain, header);
            if (drained)
            {
                connection.Readable = false;
                ArmReadable(connection);
            }
            else
            {
                QueueData(connection);
            }
            return VsockPacketHeader.Size + received;
        }
        connection.Readable = false;
        switch (error)
        {
            case SocketError.WouldBlock:
                ArmReadable(connection);
                return 0;
            case SocketError.Success:
                return WriteHostEof(connection, chain);
            default:
                Log($"{connection}: host socket read failed ({error}), resetting");
                var reset = HeaderFor(connection, VsockOp.Rst);
                Close(connection, sendReset: false, null);
                return WriteHeader(chain, reset);
        }
    }

    /// <summary>
    /// The host socket's read side ended: SHUTDOWN with the send bit (a half close the guest sees as EOF); with the
    /// receive bit too when the guest already said it sends nothing more, which is then our clean close.
    /// </summary>
    private int WriteHostEof(VsockConnection connection, VirtqueueChain chain)
    {
        connection.HostEof = true;
        connection.LocalShutdown |= VsockShutdownFlags.Send;
        if ((connection.PeerShutdown & VsockShutdownFlags.Send) != 0 && connection.TxDrained)
        {
            connection.LocalShutdown |= VsockShutdownFlags.Receive;
            connection.State = VsockConnectionState.Closing;
            SetExpiry(connection, _options.ShutdownTimeout);
        }
        connection.Pending &= ~VsockPendingControl.Shutdown;
        var header = HeaderFor(connection, VsockOp.Shutdown);
        header.Flags = (uint)connection.LocalShutdown;
        return WriteHeader(chain, header);
    }

    /// <summary>Non-blocking reads into the writable part from <paramref name="offset"/>; <paramref name="drained"/> when the socket gave less than asked.</summary>
    private static int ReceiveInto(Socket socket, VirtqueueChain chain, int offset, int length, out SocketError error, out bool drained)
    {
        error = SocketError.Success;
        drained = false;
        int received = 0;
        var segments = chain.Writable;
        for (int i = 0; i < segments.Count && received < length; i++)
        {
            var segment = segments[i];
            if (offset >= segment.Length)
            {
                offset -= segment.Length;
                continue;
            }
            var span = segment.Span.Slice(offset, Math.Min(segment.Length - offset, length - received));
            offset = 0;
            int n = socket.Receive(span, SocketFlags.None, out error);
            if (error != SocketError.Success)
            {
                if (received > 0)
                {
                    // What arrived goes out now; the error shows again on the next read.
                    drained = error == SocketError.WouldBlock;
                    error = SocketError.Success;
                }
                return received;
            }
            received += n;
            if (n < span.Length)
            {
                drained = true;
                return received;
            }
        }
        return received;
    }

    private static int WriteHeader(VirtqueueChain chain, in VsockPacketHeader header)
    {
        Span<byte> raw = stackalloc byte[VsockPacketHeader.Size];
        header.Write(raw);
        chain.Write(0, raw);
        return VsockPacketHeader.Size + (int)header.Len;
    }

    /// <summary>A header from us to the guest on <paramref name="connection"/>, with our credit (which the guest now knows).</summary>
    private VsockPacketHeader HeaderFor(VsockConnection connection, VsockOp op)
    {
        connection.LastFwdCntSent = connection.FwdCnt;
        return new VsockPacketHeader
        {
            SrcCid = HostCid,
            DstCid = _options.GuestCid,
            SrcPort = connection.LocalPort,
            DstPort = connection.PeerPort,
            Type = VsockPacketHeader.TypeStream,
            Op = op,
            BufAlloc = (uint)_options.BufAlloc,
            FwdCnt = connection.FwdCnt,
        };
    }

    private void QueueControl(VsockConnection connection, VsockPendingControl control)
    {
        if (connection.Closed)
        {
            return;
        }
        connection.Pending |= control;
        if (!connection.InControlQueue)
        {
            connection.InControlQueue = true;
            _controlQueue.Enqueue(connection);
        }
    }

    /// <summary>Queues a readable connection for data, or asks the guest for credit when it has none left.</summary>
    private void QueueData(VsockConnection connection)
    {
        if (connection.Closed || connection.InDataQueue || !connection.Readable || connection.State != VsockConnectionState.Established
            || (connection.PeerShutdown & VsockShutdownFlags.Receive) != 0)
        {
            return;
        }
        if (connection.PeerCredit == 0)
        {
            if (!connection.CreditRequested)
            {
                connection.CreditRequested = true;
                QueueControl(connection, VsockPendingControl.CreditRequest);
            }
            return;
        }
        connection.InDataQueue = true;
        _dataQueue.Enqueue(connection);
    }

    private static bool CanSendData(VsockConnection connection) =>
        !connection.Closed && connection.Readable && connection.State == VsockConnectionState.Established
        && (connection.PeerShutdown & VsockShutdownFlags.Receive) == 0 && connection.PeerCredit > 0;

    /// <summary>
    /// Waits for the host socket to become readable with a zero-byte receive (.NET peeks one byte for it), so
    /// bytes stay in the kernel until a guest buffer and credit are there to take them.
    /// </summary>
    private void ArmReadable(VsockConnection connection)
    {
        if (connection.Closed || connection.ReadArmed || connection.Readable || connection.HostEof
            || connection.State != VsockConnectionState.Established || (connection.PeerShutdown & VsockShutdownFlags.Receive) != 0)
        {
            return;
        }
        var args = connection.ReadinessArgs;
        if (args is null)
        {
            args = new SocketAsyncEventArgs { UserToken = connection };
            args.SetBuffer(Memory<byte>.Empty);
            args.Completed += OnReadinessCompleted;
            connection.ReadinessArgs = args;
        }
        connection.ReadArmed = true;
        bool pending;
        try
        {
            pending = connection.Socket.ReceiveAsync(args);
        }
        catch (ObjectDisposedException)
        {
            connection.ReadArmed = false;
            return;
        }
        if (!pending)
        {
            connection.ReadArmed = false;
            connection.Readable = true;
            QueueData(connection);
        }
    }

    private void OnReadinessCompleted(object? sender, SocketAsyncEventArgs args)
    {
        var connection = (VsockConnection)args.UserToken!;
        lock (_lock)
        {
            connection.ReadArmed = false;
            if (connection.Closed)
            {
                args.Dispose();
                return;
            }
            // Data, EOF or an error: the next read tells which.
            connection.Readable = true;
            QueueData(connection);
            PumpRx();
        }
    }

    /// <summary>RST in answer to a packet no connection takes (never to an RST), if not too many wait already; the caller pumps rx.</summary>
    private void ResetUnknown(in VsockPacketHeader packet)
    {
        if (packet.Op == VsockOp.Rst || _resets.Count >= MaxPendingResets)
        {
            return;
        }
        _resets.Enqueue(new VsockPacketHeader
        {
            SrcCid = HostCid,
            DstCid = packet.SrcCid,
            SrcPort = packet.DstPort,
            DstPort = packet.SrcPort,
            Type = packet.Type == 0 ? VsockPacketHeader.TypeStream : packet.Type,
            Op = VsockOp.Rst,
            BufAlloc = (uint)_options.BufAlloc,
        });
    }
}
