using System.Buffers.Binary;
using KataAgent.Host.VhostUser;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// A device for the server's tests: what the driver sends on queue 1 comes back on queue 0 (the vsock rx/tx
/// pair's directions), copied through the chains' views of guest memory. It follows the seam's contract (one lock
/// around every use of the queues, Pause takes it) and records what the server called, in order.
/// </summary>
internal sealed class EchoDevice : IVhostUserDevice
{
    public const ulong FeatureStream = 1UL << 0;
    public const ulong GuestCid = 0x1122_3344_5566_7788;

    private readonly Lock _lock = new();
    private readonly List<string> _events = [];
    private readonly Queue<byte[]> _pending = new();
    private readonly byte[] _config = new byte[8];
    private IReadOnlyList<IVirtqueue>? _queues;

    private readonly SemaphoreSlim? _work;

    /// <summary>With <paramref name="ownThread"/>, kicks only wake a thread of the device's that does the work, as a device serving host sockets does.</summary>
    public EchoDevice(bool ownThread = false)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_config, GuestCid);
        if (ownThread)
        {
            _work = new SemaphoreSlim(0);
            new Thread(Work) { IsBackground = true, Name = "echo device" }.Start();
        }
    }

    public ulong DeviceFeatures => FeatureStream;

    public int QueueCount => 2;

    public ReadOnlySpan<byte> Config => _config;

    public ulong AcknowledgedFeatures { get; private set; }

    /// <summary>The VirtqueueExceptions the queues threw, in order.</summary>
    public List<VirtqueueException> Failures { get; } = [];

    /// <summary>How many segments each chain taken from queue 1 had in its readable part.</summary>
    public List<int> ReadableSegments { get; } = [];

    /// <summary>Thrown by the next <see cref="Kick"/>: a device bug.</summary>
    public Exception? FailNextKick { get; set; }

    /// <summary>Whether the device is started (between Start and Stop).</summary>
    public bool Running
    {
        get
        {
            lock (_lock)
            {
                return _queues is not null;
            }
        }
    }

    public string[] Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public void SetAcknowledgedFeatures(ulong features)
    {
        AcknowledgedFeatures = features;
        Record($"features 0x{features:x}");
    }

    public void Start(IReadOnlyList<IVirtqueue> queues)
    {
        lock (_lock)
        {
            if (_queues is not null)
            {
                throw new InvalidOperationException("started twice");
            }
            _queues = queues;
        }
        Record("start");
    }

    public void Kick(int queueIndex)
    {
        Record($"kick {queueIndex}");
        if (FailNextKick is { } failure)
        {
            FailNextKick = null;
            throw failure;
        }
        if (_work is not null)
        {
            _work.Release();
            return;
        }
        lock (_lock)
        {
            if (_queues is null)
            {
                throw new InvalidOperationException("kicked while stopped");
            }
            try
            {
                Echo(_queues[1], _queues[0]);
            }
            catch (VirtqueueException e)
            {
                Failures.Add(e);
                throw;
            }
        }
    }

    public void Stop()
    {
        lock (_lock)
        {
            _queues = null;
            _pending.Clear();
        }
        Record("stop");
    }

    public IDisposable Pause()
    {
        _lock.Enter();
        Record("pause");
        return new Resume(this);
    }

    /// <summary>Waits until <paramref name="condition"/> holds of the events so far.</summary>
    public void WaitFor(Func<string[], bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + FakeFrontEnd.ReplyTimeout;
        while (!condition(Events))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: events so far: {string.Join(", ", Events)}");
            }
            Thread.Sleep(5);
        }
    }

    public void WaitForEvent(string name, int count = 1) => WaitFor(e => e.Count(x => x == name) >= count, $"{count}× {name}");

    private void Work()
    {
        while (true)
        {
            _work!.Wait();
            lock (_lock)
            {
                try
                {
                    if (_queues is not null)
                    {
                        Echo(_queues[1], _queues[0]);
                    }
                }
                catch (VirtqueueException e)
                {
                    Failures.Add(e);
                }
            }
        }
    }

    private void Echo(IVirtqueue tx, IVirtqueue rx)
    {
        while (tx.TryTake(out var chain))
        {
            ReadableSegments.Add(chain.Readable.Count);
            var bytes = new byte[chain.ReadableLength];
            chain.Read(0, bytes);
            _pending.Enqueue(bytes);
            tx.Complete(chain, 0);
        }
        tx.NotifyDriver();
        while (_pending.Count > 0 && rx.TryTake(out var buffer))
        {
            var bytes = _pending.Dequeue();
            int written = buffer.Write(0, bytes);
            rx.Complete(buffer, (uint)written);
        }
        rx.NotifyDriver();
    }

    private void Record(string name)
    {
        lock (_events)
        {
            _events.Add(name);
        }
    }

    private sealed class Resume(EchoDevice device) : IDisposable
    {
        public void Dispose()
        {
            device.Record("resume");
            device._lock.Exit();
        }
    }
}
