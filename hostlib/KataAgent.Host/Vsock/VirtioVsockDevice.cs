using System.Buffers.Binary;
using System.Net.Sockets;
using KataAgent.Host.VhostUser;

namespace KataAgent.Host.Vsock;

/// <summary>
/// The virtio-vsock device behind our vhost-user-vsock backend: STREAM sockets between the guest and host unix
/// sockets, with the hybrid-vsock convention on the host side (<c>CONNECT &lt;port&gt;\n</c> on
/// <see cref="VirtioVsockDeviceOptions.HybridSocketPath"/>; guest connections to port P go to <c>&lt;path&gt;_P</c>).
/// </summary>
/// <remarks>
/// One lock guards every connection and both queues: the server's loop thread (kicks), the host sockets'
/// readiness callbacks, the tx flushers and the timer all take it, and no chain outlives it. Nothing done under it
/// blocks: host sockets are non-blocking, and what the host cannot take yet waits in the connection's
/// <see cref="VsockTxBuffer"/>. Packets for the guest wait outside the rx ring (resets, then control packets, then
/// data as credit and posted buffers allow), so tx keeps moving while the guest posts no rx buffers.
/// Split by concern: the tx queue (<c>.Tx.cs</c>), the rx queue (<c>.Rx.cs</c>), connection life
/// (<c>.Connections.cs</c>), the hybrid host side (<c>.Hybrid.cs</c>).
/// </remarks>
internal sealed partial class VirtioVsockDevice : IVhostUserDevice, IDisposable
{
    /// <summary>The host's context id.</summary>
    public const ulong HostCid = 2;

    /// <summary>VIRTIO_VSOCK_F_STREAM. SEQPACKET is not offered.</summary>
    public const ulong FeatureStream = 1UL << 0;

    /// <summary>The largest payload one packet carries (Linux's and Firecracker's 64 KiB).</summary>
    public const int MaxPayload = 64 * 1024;

    /// <summary>Resets owed to the guest for packets without a connection beyond this many are dropped (the guest times out instead).</summary>
    public const int MaxPendingResets = 4096;

    private const int RxQueueIndex = 0;
    private const int TxQueueIndex = 1;

    private readonly Lock _lock = new();
    private readonly VirtioVsockDeviceOptions _options;
    private readonly TextWriter? _log;
    private readonly byte[] _config = new byte[8];
    private readonly Dictionary<ulong, VsockConnection> _connections = [];
    private readonly HashSet<uint> _localPortsInUse = [];
    private readonly Queue<VsockPacketHeader> _resets = new();
    private readonly Queue<VsockConnection> _controlQueue = new();
    private readonly Queue<VsockConnection> _dataQueue = new();
    private readonly List<VsockConnection> _expiring = [];
    private readonly Timer _timer;
    private IVirtqueue? _rx;
    private IVirtqueue? _tx;
    private int _pauseDepth;
    private bool _broken;
    private bool _disposed;
    private uint _nextLocalPort = FirstLocalPort;
    private ulong _acknowledgedFeatures;

    /// <summary>A device for <paramref name="options"/>; the hybrid socket listens once this returns.</summary>
    /// <exception cref="ArgumentException">The CID is reserved or the path is empty.</exception>
    /// <exception cref="IOException">The hybrid socket cannot be bound (in use, bad directory).</exception>
    public VirtioVsockDevice(VirtioVsockDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.GuestCid is <= HostCid or >= 0xffffffffUL)
        {
            throw new ArgumentException($"GuestCid {options.GuestCid} is reserved: use 3 up to 4294967294", nameof(options));
        }
        if (string.IsNullOrEmpty(options.HybridSocketPath))
        {
            throw new ArgumentException("HybridSocketPath is empty", nameof(options));
        }
        if (options.BufAlloc is < 4096 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException($"BufAlloc {options.BufAlloc} is outside 4 KiB..64 MiB", nameof(options));
        }
        _options = options;
        _log = options.Log is null ? null : TextWriter.Synchronized(options.Log);
        BinaryPrimitives.WriteUInt64LittleEndian(_config, options.GuestCid);
        _listener = BindHybridListener(options.HybridSocketPath);
        _timer = new Timer(static state => ((VirtioVsockDevice)state!).OnTimer(), this, TimerPeriod, TimerPeriod);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <inheritdoc />
    public ulong DeviceFeatures => FeatureStream;

    /// <inheritdoc />
    public int QueueCount => 2;

    /// <inheritdoc />
    public ReadOnlySpan<byte> Config => _config;

    /// <summary>The guest's context id.</summary>
    public ulong GuestCid => _options.GuestCid;

    /// <summary>The hybrid-vsock unix socket.</summary>
    public string HybridSocketPath => _options.HybridSocketPath;

    /// <summary>Open connections (tests and diagnostics).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count;
            }
        }
    }

    private bool CanUseQueues => _rx is not null && _tx is not null && _pauseDepth == 0 && !_broken;

    /// <inheritdoc />
    public void SetAcknowledgedFeatures(ulong features)
    {
        lock (_lock)
        {
            _acknowledgedFeatures = features;
        }
    }

    /// <inheritdoc />
    public void Start(IReadOnlyList<IVirtqueue> queues)
    {
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Count < 2)
        {
            throw new ArgumentException($"virtio-vsock needs its rx and tx queues, got {queues.Count}", nameof(queues));
        }
        lock (_lock)
        {
            ResetConnections("the device starts");
            _rx = queues[RxQueueIndex];
            _tx = queues[TxQueueIndex];
            _broken = false;
            Log($"started (guest cid {_options.GuestCid}, features 0x{_acknowledgedFeatures:x})");
            ProcessTx();
            PumpRx();
        }
    }

    /// <inheritdoc />
    public void Kick(int queueIndex)
    {
        lock (_lock)
        {
            if (queueIndex == TxQueueIndex)
            {
                ProcessTx();
            }
            PumpRx();
        }
    }

    /// <inheritdoc />
    public void Stop()
    {
        lock (_lock)
        {
            if (_rx is not null)
            {
                Log("stopped: every connection reset");
            }
            _rx = null;
            _tx = null;
            ResetConnections("the device stopped");
        }
    }

    /// <inheritdoc />
    public IDisposable Pause()
    {
        lock (_lock)
        {
            _pauseDepth++;
        }
        return new PauseScope(this);
    }

    /// <summary>Closes the hybrid socket (and deletes it) and every connection.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _rx = null;
            _tx = null;
            ResetConnections("the device is disposed");
        }
        _timer.Dispose();
        CloseHybridListener();
    }

    private void Resume()
    {
        lock (_lock)
        {
            if (--_pauseDepth == 0)
            {
                // Kicks that came while paused were only counted as work to do: catch up now.
                ProcessTx();
                PumpRx();
            }
        }
    }

    private void QueueBroken(VirtqueueException e)
    {
        _broken = true;
        Log($"a virtqueue is broken, the device idles until the driver resets it: {e.Message}");
    }

    private void Log(string message) => _log?.WriteLine($"vsock: {message}");

    private sealed class PauseScope(VirtioVsockDevice device) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                device.Resume();
            }
        }
    }
}
