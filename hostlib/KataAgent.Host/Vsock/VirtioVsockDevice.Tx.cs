using System.Net.Sockets;
using KataAgent.Host.VhostUser;

namespace KataAgent.Host.Vsock;

internal sealed partial class VirtioVsockDevice
{
    /// <summary>Takes every packet the guest put on the tx queue and completes it at once. Under the lock.</summary>
    private void ProcessTx()
    {
        if (!CanUseQueues)
        {
            return;
        }
        var tx = _tx!;
        bool completed = false;
        try
        {
            while (tx.TryTake(out var chain))
            {
                HandleTxPacket(chain);
                tx.Complete(chain, 0);
                completed = true;
            }
        }
        catch (VirtqueueException e)
        {
            QueueBroken(e);
        }
        if (completed)
        {
            tx.NotifyDriver();
        }
    }

    private void HandleTxPacket(VirtqueueChain chain)
    {
        Span<byte> raw = stackalloc byte[VsockPacketHeader.Size];
        if (chain.Read(0, raw) < VsockPacketHeader.Size)
        {
            // Not even a header: nothing to answer to.
            return;
        }
        var header = VsockPacketHeader.Read(raw);
        if (header.SrcCid != _options.GuestCid)
        {
            // A packet claiming another source is the guest lying about its CID: drop, never answer it.
            return;
        }
        if (header.DstCid != HostCid || header.Type != VsockPacketHeader.TypeStream
            || header.Len > MaxPayload || header.Len > chain.ReadableLength - VsockPacketHeader.Size)
        {
            ResetUnknown(header);
            return;
        }

        ulong key = VsockConnection.KeyOf(header.DstPort, header.SrcPort);
        if (!_connections.TryGetValue(key, out var connection))
        {
            if (header.Op == VsockOp.Request)
            {
                AcceptGuestConnection(header);
            }
            else
            {
                ResetUnknown(header);
            }
            return;
        }

        UpdatePeerCredit(connection, header);
        switch (header.Op)
        {
            case VsockOp.Rw when connection.State == VsockConnectionState.Established || connection.State == VsockConnectionState.Closing:
                ReceiveFromGuest(connection, chain, header.Len);
                break;
            case VsockOp.Response when connection.State == VsockConnectionState.LocalInit:
                Established(connection);
                break;
            case VsockOp.Rst:
                Close(connection, sendReset: false, connection.State == VsockConnectionState.LocalInit ? "refused by the guest" : null);
                break;
            case VsockOp.Shutdown when connection.State != VsockConnectionState.LocalInit:
                GuestShutdown(connection, (VsockShutdownFlags)header.Flags & VsockShutdownFlags.Both);
                break;
            case VsockOp.CreditUpdate when connection.State != VsockConnectionState.LocalInit:
                break;
            case VsockOp.CreditRequest when connection.State != VsockConnectionState.LocalInit:
                QueueControl(connection, VsockPendingControl.CreditUpdate);
                break;
            default:
                // A REQUEST for a live connection, data before the RESPONSE, an unknown op: the guest's view and
                // ours disagree, and only a reset brings them back together.
                Log($"{connection}: unexpected {header.Op} in state {connection.State}, resetting");
                Close(connection, sendReset: true, null);
                break;
        }
    }

    /// <summary>Every packet carries the guest's buf_alloc and fwd_cnt; new credit may unblock host data.</summary>
    private void UpdatePeerCredit(VsockConnection connection, in VsockPacketHeader header)
    {
        if (connection.State == VsockConnectionState.LocalInit && header.Op != VsockOp.Response)
        {
            return;
        }
        connection.PeerBufAlloc = header.BufAlloc;
        connection.PeerFwdCnt = header.FwdCnt;
        if (connection.PeerCredit > 0)
        {
            connection.CreditRequested = false;
            if (connection.Readable)
            {
                QueueData(connection);
            }
        }
    }

    /// <summary>RW from the guest: straight into the host socket while it takes it, the rest into the tx buffer.</summary>
    private void ReceiveFromGuest(VsockConnection connection, VirtqueueChain chain, uint length)
    {
        if (length == 0)
        {
            return;
        }
        if ((connection.PeerShutdown & VsockShutdownFlags.Send) != 0 || connection.HostWriteShut)
        {
            // Data after the guest promised none: drop it, as Firecracker does.
            return;
        }
        uint buffered = connection.RecvCnt - connection.FwdCnt;
        if (buffered + length > (uint)_options.BufAlloc)
        {
            Log($"{connection}: the guest sent {length} bytes beyond its credit ({buffered} of {_options.BufAlloc} buffered), resetting");
            Close(connection, sendReset: true, null);
            return;
        }
        connection.RecvCnt += length;

        int offset = VsockPacketHeader.Size;
        int remaining = (int)length;
        if (connection.TxDrained)
        {
            int sent = SendDirect(connection, chain, offset, remaining, out var error);
            if (error is not SocketError.Success and not SocketError.WouldBlock)
            {
                Log($"{connection}: host socket write failed ({error}), resetting");
                Close(connection, sendReset: true, null);
                return;
            }
            connection.FwdCnt += (uint)sent;
            offset += sent;
            remaining -= sent;
        }
        if (remaining > 0)
        {
            AppendToTxBuffer(connection, chain, offset, remaining);
            StartFlush(connection);
        }
        MaybeUpdateCredit(connection);
    }

    /// <summary>Non-blocking writes of the chain's payload until the socket stops taking it.</summary>
    private static int SendDirect(VsockConnection connection, VirtqueueChain chain, int offset, int length, out SocketError error)
    {
        error = SocketError.Success;
        int sent = 0;
        var segments = chain.Readable;
        for (int i = 0; i < segments.Count && sent < length; i++)
        {
            var segment = segments[i];
            if (offset >= segment.Length)
            {
                offset -= segment.Length;
                continue;
            }
            var span = segment.Span.Slice(offset, Math.Min(segment.Length - offset, length - sent));
            offset = 0;
            int n = connection.Socket.Send(span, SocketFlags.None, out error);
            if (error != SocketError.Success)
            {
                return sent;
            }
            sent += n;
            if (n < span.Length)
            {
                error = SocketError.WouldBlock;
                return sent;
            }
        }
        return sent;
    }

    private static void AppendToTxBuffer(VsockConnection connection, VirtqueueChain chain, int offset, int length)
    {
        var segments = chain.Readable;
        for (int i = 0; i < segments.Count && length > 0; i++)
        {
            var segment = segments[i];
            if (offset >= segment.Length)
            {
                offset -= segment.Length;
                continue;
            }
            int take = Math.Min(segment.Length - offset, length);
            connection.TxBuffer.Append(segment.Span.Slice(offset, take));
            offset = 0;
            length -= take;
        }
    }

    /// <summary>
    /// Tells the guest about freed buffer space before it runs dry: once its view of our free space is below half
    /// and a quarter of the buffer was freed since it last heard (Linux does not ask; it waits for updates).
    /// </summary>
    private void MaybeUpdateCredit(VsockConnection connection)
    {
        uint bufAlloc = (uint)_options.BufAlloc;
        uint seenFree = bufAlloc - (connection.RecvCnt - connection.LastFwdCntSent);
        uint freedSinceSeen = connection.FwdCnt - connection.LastFwdCntSent;
        if (seenFree < bufAlloc / 2 && freedSinceSeen >= bufAlloc / 4)
        {
            QueueControl(connection, VsockPendingControl.CreditUpdate);
        }
    }

    /// <summary>The guest's SHUTDOWN: its bits are sticky; the host socket follows once our buffer drained.</summary>
    private void GuestShutdown(VsockConnection connection, VsockShutdownFlags flags)
    {
        connection.PeerShutdown |= flags;
        if ((flags & VsockShutdownFlags.Both) == VsockShutdownFlags.Both && !connection.TxDrained)
        {
            // Its close waits for our RST; give the host reader the shutdown timeout to take what is buffered.
            SetExpiry(connection, _options.ShutdownTimeout);
        }
        CheckFinished(connection);
    }

    /// <summary>
    /// After any change of the shutdown picture: shuts the host socket's write side once the guest will send no
    /// more and its bytes are out, and ends the connection when nothing can flow any more.
    /// </summary>
    private void CheckFinished(VsockConnection connection)
    {
        if (connection.Closed || !connection.TxDrained)
        {
            return;
        }
        if ((connection.PeerShutdown & VsockShutdownFlags.Send) != 0 && !connection.HostWriteShut)
        {
            connection.HostWriteShut = true;
            try
            {
                connection.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The host side is gone already: the reads will see it.
            }
        }
        if (connection.PeerShutdown == VsockShutdownFlags.Both)
        {
            // The guest closed: our RST is the last word of its clean close.
            Close(connection, sendReset: true, null);
        }
        else if ((connection.PeerShutdown & VsockShutdownFlags.Send) != 0 && connection.HostEof
                 && connection.State != VsockConnectionState.Closing)
        {
            // The guest's half close completes ours: both directions are done.
            Close(connection, sendReset: true, null);
        }
    }

    /// <summary>Drains the tx buffer into the host socket with asynchronous sends, outside the lock.</summary>
    private void StartFlush(VsockConnection connection)
    {
        if (connection.Flushing || connection.Closed || connection.TxBuffer.IsEmpty)
        {
            return;
        }
        connection.Flushing = true;
        // Off this thread: a send that completes at once must not re-enter the tx loop we are in.
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Device.FlushAsync(state.Connection), (Device: this, Connection: connection), preferLocal: false);
    }

    private async Task FlushAsync(VsockConnection connection)
    {
        while (true)
        {
            ReadOnlyMemory<byte> chunk;
            lock (_lock)
            {
                if (connection.Closed)
                {
                    connection.Flushing = false;
                    connection.TxBuffer.Release();
                    return;
                }
                chunk = connection.TxBuffer.PeekContiguous();
                if (chunk.IsEmpty)
                {
                    connection.Flushing = false;
                    CheckFinished(connection);
                    PumpRx();
                    return;
                }
            }

            int sent;
            try
            {
                sent = await connection.Socket.SendAsync(chunk, SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_lock)
                {
                    connection.Flushing = false;
                    if (!connection.Closed)
                    {
                        Log($"{connection}: host socket write failed ({e.Message}), resetting");
                        Close(connection, sendReset: true, null);
                        PumpRx();
                    }
                    connection.TxBuffer.Release();
                }
                return;
            }

            lock (_lock)
            {
                if (connection.Closed)
                {
                    connection.Flushing = false;
                    connection.TxBuffer.Release();
                    return;
                }
                connection.TxBuffer.Consume(sent);
                connection.FwdCnt += (uint)sent;
                MaybeUpdateCredit(connection);
                PumpRx();
            }
        }
    }
}
