using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace KataAgent.Host.Vsock;

internal sealed partial class VirtioVsockDevice
{
    /// <summary>Firecracker's range for the host ports of host-initiated connections: [2^30, 2^31).</summary>
    private const uint FirstLocalPort = 1u << 30;
    private const uint EndLocalPort = 1u << 31;
    private static readonly TimeSpan TimerPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>The guest's REQUEST to host port P: connect to <c>&lt;hybrid path&gt;_P</c>, RESPONSE or RST.</summary>
    private void AcceptGuestConnection(in VsockPacketHeader request)
    {
        if (_connections.Count >= _options.MaxConnections)
        {
            Log($"guest connection to port {request.DstPort} refused: {_options.MaxConnections} connections open");
            ResetUnknown(request);
            return;
        }
        string path = string.Create(CultureInfo.InvariantCulture, $"{_options.HybridSocketPath}_{request.DstPort}");
        Socket? socket = null;
        try
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            // A unix connect completes at once or fails at once; a full backlog (EAGAIN) counts as refused.
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException)
        {
            socket?.Dispose();
            Log($"guest connection to port {request.DstPort} refused: nothing listens on {path} ({e.Message})");
            ResetUnknown(request);
            return;
        }

        var connection = new VsockConnection(request.DstPort, request.SrcPort, socket, VsockConnectionState.Established, hostInitiated: false, _options.BufAlloc)
        {
            PeerBufAlloc = request.BufAlloc,
            PeerFwdCnt = request.FwdCnt,
        };
        _connections.Add(connection.Key, connection);
        QueueControl(connection, VsockPendingControl.Response);
        ArmReadable(connection);
    }

    /// <summary>A hybrid client's CONNECT: a REQUEST from a free host port; the client hears OK once the guest answers.</summary>
    private void OpenHostConnection(Socket client, uint guestPort)
    {
        lock (_lock)
        {
            string? refusal = _disposed ? "the device is disposed"
                : _rx is null ? "the guest's vsock driver is not running"
                : _connections.Count >= _options.MaxConnections ? $"{_options.MaxConnections} connections open"
                : null;
            if (refusal is not null)
            {
                Log($"hybrid CONNECT {guestPort} refused: {refusal}");
                client.Dispose();
                return;
            }
            uint localPort = AllocateLocalPort();
            client.Blocking = false;
            var connection = new VsockConnection(localPort, guestPort, client, VsockConnectionState.LocalInit, hostInitiated: true, _options.BufAlloc);
            _connections.Add(connection.Key, connection);
            _localPortsInUse.Add(localPort);
            SetExpiry(connection, _options.ConnectTimeout);
            QueueControl(connection, VsockPendingControl.Request);
            PumpRx();
        }
    }

    /// <summary>Round robin through Firecracker's range, skipping ports in use.</summary>
    private uint AllocateLocalPort()
    {
        while (true)
        {
            uint port = _nextLocalPort;
            _nextLocalPort = port + 1 >= EndLocalPort ? FirstLocalPort : port + 1;
            if (!_localPortsInUse.Contains(port))
            {
                return port;
            }
        }
    }

    /// <summary>The guest's RESPONSE to our REQUEST: <c>OK &lt;host port&gt;\n</c> to the client, then bytes flow.</summary>
    private void Established(VsockConnection connection)
    {
        connection.State = VsockConnectionState.Established;
        connection.ExpiresAt = 0;
        Span<byte> reply = stackalloc byte[32];
        int length = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"OK {connection.LocalPort}\n"), reply);
        // The client's socket buffer is empty before OK: a short write means the client is gone.
        int sent = connection.Socket.Send(reply[..length], SocketFlags.None, out var error);
        if (error != SocketError.Success || sent != length)
        {
            Log($"{connection}: the hybrid client left before OK ({error}), resetting");
            Close(connection, sendReset: true, null);
            return;
        }
        ArmReadable(connection);
    }

    /// <summary>
    /// Ends <paramref name="connection"/>: out of the map, host socket closed (a hybrid client sees EOF), its buffer
    /// returned; an RST goes to the guest when <paramref name="sendReset"/>.
    /// </summary>
    private void Close(VsockConnection connection, bool sendReset, string? reason)
    {
        if (connection.Closed)
        {
            return;
        }
        if (reason is not null)
        {
            Log($"{connection}: {reason}");
        }
        if (sendReset && _rx is not null && _resets.Count < MaxPendingResets)
        {
            _resets.Enqueue(HeaderFor(connection, VsockOp.Rst));
        }
        connection.Closed = true;
        connection.Pending = VsockPendingControl.None;
        _connections.Remove(connection.Key);
        if (connection.HostInitiated)
        {
            _localPortsInUse.Remove(connection.LocalPort);
        }
        connection.Socket.Dispose();
        if (!connection.Flushing)
        {
            connection.TxBuffer.Release();
        }
        if (!connection.ReadArmed)
        {
            // A pending readiness wait completes (aborted) and disposes its args itself.
            connection.ReadinessArgs?.Dispose();
        }
    }

    /// <summary>Every connection closed without a word to the guest (its driver is gone or starts afresh); listeners stay.</summary>
    private void ResetConnections(string why)
    {
        if (_connections.Count > 0)
        {
            Log($"{_connections.Count} connection(s) reset: {why}");
        }
        foreach (var connection in _connections.Values.ToArray())
        {
            Close(connection, sendReset: false, null);
        }
        _resets.Clear();
        _controlQueue.Clear();
        _dataQueue.Clear();
        _expiring.Clear();
        _localPortsInUse.Clear();
    }

    private void SetExpiry(VsockConnection connection, TimeSpan after)
    {
        if (connection.ExpiresAt == 0)
        {
            _expiring.Add(connection);
        }
        connection.ExpiresAt = Environment.TickCount64 + (long)after.TotalMilliseconds;
    }

    /// <summary>Resets connections whose REQUEST went unanswered, or whose close waited too long for the guest's RST.</summary>
    private void OnTimer()
    {
        lock (_lock)
        {
            if (_expiring.Count == 0)
            {
                return;
            }
            long now = Environment.TickCount64;
            bool any = false;
            for (int i = _expiring.Count - 1; i >= 0; i--)
            {
                var connection = _expiring[i];
                if (connection.Closed || connection.ExpiresAt == 0)
                {
                    _expiring.RemoveAt(i);
                    continue;
                }
                if (connection.ExpiresAt > now)
                {
                    continue;
                }
                _expiring.RemoveAt(i);
                connection.ExpiresAt = 0;
                Close(connection, sendReset: true, connection.State == VsockConnectionState.LocalInit
                    ? $"no RESPONSE within {_options.ConnectTimeout.TotalMilliseconds:0} ms, resetting"
                    : $"no RST within {_options.ShutdownTimeout.TotalMilliseconds:0} ms of the shutdown, forcing one");
                any = true;
            }
            if (any)
            {
                PumpRx();
            }
        }
    }
}
