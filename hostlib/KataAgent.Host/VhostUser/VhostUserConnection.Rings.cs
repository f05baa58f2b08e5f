namespace KataAgent.Host.VhostUser;

/// <summary>The ring messages, and when the device starts and stops.</summary>
/// <remarks>
/// The device starts once every ring it handles has a size, addresses, a kick fd and is enabled, and guest memory
/// is mapped; it stops on GET_VRING_BASE, SET_VRING_ENABLE(0), RESET_OWNER, and when the connection ends. A
/// <see cref="VirtqueueException"/> out of the device stops it too, and it stays stopped until the driver
/// resets the rings (GET_VRING_BASE, RESET_OWNER): the guest's view of that queue is broken, other guests' and
/// later connections are not.
/// </remarks>
internal sealed partial class VhostUserConnection
{
    /// <summary>VHOST_USER_VRING_IDX_MASK: the ring index in a SET_VRING_KICK/CALL/ERR payload.</summary>
    private const ulong VringIndexMask = 0xff;

    /// <summary>VHOST_USER_VRING_NOFD_MASK: no fd comes with the message.</summary>
    private const ulong VringNoFd = 1UL << 8;

    private bool _started;
    private string? _broken;

    private bool SetVringNum(VringState state)
    {
        if (!TryGetVring(state.Index, "SET_VRING_NUM", out var vring) || !NotWhileStarted(vring, "SET_VRING_NUM"))
        {
            return false;
        }
        if (state.Num == 0 || state.Num > 32768 || (state.Num & (state.Num - 1)) != 0)
        {
            Log($"SET_VRING_NUM {state.Num} for ring {state.Index}: a split queue's size is a power of 2 up to 32768");
            return false;
        }
        vring.Size = (ushort)state.Num;
        return true;
    }

    private bool SetVringAddr(VringAddress address)
    {
        if (!TryGetVring(address.Index, "SET_VRING_ADDR", out var vring))
        {
            return false;
        }
        vring.Address = address;
        if (vring.Queue is { } queue)
        {
            string? error;
            using (_device.Pause())
            {
                error = queue.Remap(_memory!, address);
            }
            if (error is not null)
            {
                BreakDevice($"ring {vring.Index}: SET_VRING_ADDR while running: {error}");
            }
            return error is null;
        }
        TryStartDevice();
        return true;
    }

    private bool SetVringBase(VringState state)
    {
        if (!TryGetVring(state.Index, "SET_VRING_BASE", out var vring) || !NotWhileStarted(vring, "SET_VRING_BASE"))
        {
            return false;
        }
        if (state.Num > ushort.MaxValue)
        {
            Log($"SET_VRING_BASE {state.Num} for ring {state.Index}: a split ring's index is 16 bits");
            return false;
        }
        vring.Base = (ushort)state.Num;
        return true;
    }

    /// <summary>GET_VRING_BASE stops the ring (and with it the device) and answers where it stopped; its kick and call fds are closed, as libvhost-user does.</summary>
    private void GetVringBase(VhostUserMessage message)
    {
        var state = message.ReadVringState();
        if (!TryGetVring(state.Index, "GET_VRING_BASE", out var vring))
        {
            // qemu waits for this reply whatever happens; an index it never set up gets 0.
            ReplyState(message, new VringState(state.Index, 0));
            return;
        }
        StopDevice($"GET_VRING_BASE of ring {vring.Index}");
        _broken = null;
        vring.ReplaceKick(null);
        vring.Call.Replace(null);
        ReplyState(message, new VringState(state.Index, vring.Base));
    }

    private bool SetVringFd(VhostUserMessage message)
    {
        string name = message.Request.Name();
        ulong payload = message.ReadU64();
        if (!TryGetVring((uint)(payload & VringIndexMask), name, out var vring))
        {
            return false;
        }
        bool noFd = (payload & VringNoFd) != 0;
        if (!noFd && message.FdCount != 1)
        {
            Log($"{name} for ring {vring.Index} came with {message.FdCount} fds, not 1: refused");
            return false;
        }
        var fd = noFd ? null : message.TakeFd(0);
        switch (message.Request)
        {
            case VhostUserRequest.SetVringKick:
                if (fd is null)
                {
                    // Polling rings would need a thread spinning on avail.idx; qemu always passes a kick fd.
                    Log($"{name} for ring {vring.Index} without an fd (polling mode) is not supported: refused");
                    return false;
                }
                vring.ReplaceKick(fd);
                if ((_ackedFeatures & VhostUserFeatures.ProtocolFeatures) == 0)
                {
                    vring.Enabled = true; // without PROTOCOL_FEATURES a ring is enabled by its kick fd
                }
                if (_started)
                {
                    // Kicks sent before the new fd was polled were lost with the old one.
                    KickDevice(vring.Index);
                }
                else
                {
                    TryStartDevice();
                }
                break;
            case VhostUserRequest.SetVringCall:
                vring.Call.Replace(fd);
                if (_started && fd is not null)
                {
                    // A completion signalled on the old fd while qemu switched may be lost: a spurious interrupt is
                    // harmless, a lost one hangs the driver (libvhost-user does the same).
                    vring.Call.Signal();
                }
                break;
            default:
                vring.Err.Replace(fd);
                break;
        }
        return true;
    }

    private bool SetVringEnable(VringState state)
    {
        if (!TryGetVring(state.Index, "SET_VRING_ENABLE", out var vring))
        {
            return false;
        }
        if (state.Num > 1)
        {
            Log($"SET_VRING_ENABLE {state.Num} for ring {state.Index}: 0 or 1");
            return false;
        }
        if (state.Num == 1)
        {
            vring.Enabled = true;
            TryStartDevice();
        }
        else
        {
            vring.Enabled = false;
            StopDevice($"ring {vring.Index} disabled");
        }
        return true;
    }

    private void ResetOwner()
    {
        StopDevice("RESET_OWNER");
        _broken = null;
        foreach (var vring in _vrings)
        {
            vring.Reset();
        }
        _ackedFeatures = 0;
        _protocolFeatures = 0;
    }

    private void KickDevice(int index)
    {
        try
        {
            _device.Kick(index);
        }
        catch (VirtqueueException e)
        {
            BreakDevice(e.Message);
        }
    }

    private void TryStartDevice()
    {
        if (_started || _broken is not null || _memory is null)
        {
            return;
        }
        foreach (var vring in _vrings)
        {
            if (!vring.IsReady)
            {
                return;
            }
        }
        bool eventIndex = (_ackedFeatures & VhostUserFeatures.EventIndex) != 0;
        var queues = new SplitVirtqueue[_vrings.Length];
        foreach (var vring in _vrings)
        {
            var queue = SplitVirtqueue.Open(vring.Index, vring.Size, vring.Address!.Value, vring.Base, eventIndex, _memory, vring.Call, vring.Err, _log, out string? error);
            if (queue is null)
            {
                _broken = $"ring {vring.Index}: {error}";
                Log($"{_broken}; the device stays stopped until the driver resets it");
                vring.Err.Signal();
                return;
            }
            queues[vring.Index] = queue;
        }
        foreach (var vring in _vrings)
        {
            vring.Queue = queues[vring.Index];
        }
        _started = true;
        Log($"device started: {queues.Length} rings of {string.Join("/", queues.Select(q => q.Size))} descriptors, features 0x{_ackedFeatures:x}{(eventIndex ? " (EVENT_IDX)" : "")}");
        try
        {
            _device.Start(queues);
        }
        catch (VirtqueueException e)
        {
            BreakDevice(e.Message);
            return;
        }
        // Buffers the driver made available before the kick fds were polled got no kick of ours.
        for (int i = 0; i < queues.Length && _started; i++)
        {
            KickDevice(i);
        }
    }

    private void StopDevice(string reason)
    {
        if (!_started)
        {
            return;
        }
        _device.Stop();
        _started = false;
        foreach (var vring in _vrings)
        {
            if (vring.Queue is { } queue)
            {
                vring.Base = queue.LastAvailable;
                queue.Close();
                vring.Queue = null;
            }
        }
        Log($"device stopped: {reason}");
    }

    /// <summary>A queue is broken: the device stops, and starts again only once the driver reset the rings.</summary>
    private void BreakDevice(string reason)
    {
        _broken = reason;
        Log($"{reason}; the device is stopped until the driver resets it");
        StopDevice("a broken queue");
    }

    private void ReplyState(VhostUserMessage message, VringState state)
    {
        Span<byte> payload = stackalloc byte[VringState.Length];
        state.Write(payload);
        _channel.SendReply(message.Request, payload);
    }

    private bool TryGetVring(uint index, string request, out VhostUserVring vring)
    {
        if (index < (uint)_vrings.Length)
        {
            vring = _vrings[index];
            return true;
        }
        vring = null!;
        Log($"{request} for ring {index}: the device has {_vrings.Length} rings: refused");
        return false;
    }

    private bool NotWhileStarted(VhostUserVring vring, string request)
    {
        if (vring.Queue is null)
        {
            return true;
        }
        Log($"{request} for ring {vring.Index} while it runs: refused");
        return false;
    }
}
