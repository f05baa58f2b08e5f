using KataAgent.Host.VhostUser;

namespace KataAgent.Tests.Vsock;

/// <summary>
/// A virtqueue in plain arrays, as the fake guest driver fills it: chains are posted, the device takes and
/// completes them. It checks the device's side of the contract: never two calls at once, nothing while forbidden
/// (after Stop, while paused), each chain completed once.
/// </summary>
internal sealed class FakeVirtqueue(int index, int size = 128) : IVirtqueue
{
    private readonly object _gate = new();
    private readonly Queue<VirtqueueChain> _available = new();
    private readonly List<(VirtqueueChain Chain, uint Bytes)> _used = [];
    private readonly HashSet<VirtqueueChain> _taken = [];
    private readonly SemaphoreSlim _notified = new(0);
    private int _inside;
    private ushort _nextHead;

    public int Index { get; } = index;

    public int Size { get; } = size;

    /// <summary>Contract breaches seen (concurrent calls, use while forbidden, double completion).</summary>
    public List<string> Violations { get; } = [];

    /// <summary>Any use of the queue is a breach (the device was stopped or paused).</summary>
    public bool Forbidden { get; set; }

    /// <summary>The next TryTake throws as a malformed ring would.</summary>
    public bool Malformed { get; set; }

    public int NotifyCount { get; private set; }

    public int AvailableCount
    {
        get
        {
            lock (_gate)
            {
                return _available.Count;
            }
        }
    }

    public int TakenCount
    {
        get
        {
            lock (_gate)
            {
                return _taken.Count;
            }
        }
    }

    public VirtqueueChain Post(Memory<byte>[] readable, Memory<byte>[] writable)
    {
        lock (_gate)
        {
            var chain = new VirtqueueChain(_nextHead++, readable, writable);
            _available.Enqueue(chain);
            return chain;
        }
    }

    public bool TryTake(out VirtqueueChain chain)
    {
        using var _ = Enter(nameof(TryTake));
        lock (_gate)
        {
            if (Malformed)
            {
                Malformed = false;
                throw new VirtqueueException("descriptor loop (fake)");
            }
            if (_available.TryDequeue(out chain!))
            {
                _taken.Add(chain);
                return true;
            }
            return false;
        }
    }

    public void Complete(VirtqueueChain chain, uint bytesWritten)
    {
        using var _ = Enter(nameof(Complete));
        lock (_gate)
        {
            if (!_taken.Remove(chain))
            {
                Violations.Add($"queue {Index}: chain {chain.Head} completed but not taken");
            }
            if (bytesWritten > chain.WritableLength)
            {
                Violations.Add($"queue {Index}: chain {chain.Head} completed with {bytesWritten} bytes, room for {chain.WritableLength}");
            }
            _used.Add((chain, bytesWritten));
        }
    }

    public void NotifyDriver()
    {
        using var _ = Enter(nameof(NotifyDriver));
        lock (_gate)
        {
            NotifyCount++;
        }
        _notified.Release();
    }

    /// <summary>Takes the chains completed so far, in order.</summary>
    public List<(VirtqueueChain Chain, uint Bytes)> DrainUsed()
    {
        lock (_gate)
        {
            var used = _used.ToList();
            _used.Clear();
            return used;
        }
    }

    /// <summary>Waits for the next notification (or the timeout).</summary>
    public Task<bool> WaitNotifiedAsync(TimeSpan timeout) => _notified.WaitAsync(timeout);

    private Scope Enter(string call)
    {
        if (Interlocked.Increment(ref _inside) > 1)
        {
            lock (_gate)
            {
                Violations.Add($"queue {Index}: {call} while another call was in progress");
            }
        }
        if (Forbidden)
        {
            lock (_gate)
            {
                Violations.Add($"queue {Index}: {call} while the device must keep off the queue");
            }
        }
        return new Scope(this);
    }

    private readonly struct Scope(FakeVirtqueue queue) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref queue._inside);
    }
}
