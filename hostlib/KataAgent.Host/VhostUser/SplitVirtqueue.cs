using System.Runtime.CompilerServices;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// A split virtqueue (virtio 1.2 §2.7) over mapped guest memory, from one device start to its stop: the descriptor
/// table, the available ring the driver fills and the used ring the device fills, each read or written in place.
/// </summary>
/// <remarks>
/// <para>Memory order: <c>avail.idx</c> is read with acquire semantics before the ring entry and descriptors it
/// covers; a used element is written before <c>used.idx</c> is published with release semantics; a full fence
/// separates publishing <c>used.idx</c> from reading the driver's suppression fields (<c>avail.flags</c>,
/// <c>used_event</c>), and, with EVENT_IDX, publishing <c>avail_event</c> from reading <c>avail.idx</c> again, so
/// neither side misses the other's update.</para>
/// <para>Everything the driver wrote is read once into locals and checked: a head or <c>next</c> beyond the table,
/// a chain longer than the queue (a loop), a readable descriptor after a writable one, an INDIRECT descriptor
/// (not offered), a buffer outside guest memory, an available index that jumps by more than the queue size. Any of
/// these breaks the queue: the err eventfd is signalled (qemu logs it), and every later <see cref="TryTake"/>
/// throws the same <see cref="VirtqueueException"/> until the driver resets the device.</para>
/// <para>The device calls <see cref="TryTake"/>, <see cref="Complete"/> and <see cref="NotifyDriver"/> under its
/// own lock; the connection calls <see cref="Remap"/> only while the device is paused and <see cref="Close"/> only
/// once the device stopped, so no member needs a lock of its own.</para>
/// </remarks>
internal sealed unsafe class SplitVirtqueue : IVirtqueue
{
    private const ushort DescriptorNext = 1;
    private const ushort DescriptorWrite = 2;
    private const ushort DescriptorIndirect = 4;
    private const ushort AvailableNoInterrupt = 1;
    private const int DescriptorSize = 16;

    private readonly ushort _size;
    private readonly bool _eventIndex;
    private readonly EventNotifier _call;
    private readonly EventNotifier _err;
    private readonly TextWriter? _log;
    private readonly List<Memory<byte>> _readable = [];
    private readonly List<Memory<byte>> _writable = [];

    private GuestMemory? _memory;
    private byte* _descriptors;
    private byte* _available;
    private byte* _used;
    private ushort _lastAvailable;
    private ushort _usedIndex;
    private ushort _signalledUsed;
    private bool _signalledUsedValid;
    private bool _completedSinceNotify;
    private int _inFlight;
    private string? _broken;

    private SplitVirtqueue(int index, ushort size, ushort lastAvailable, bool eventIndex, EventNotifier call, EventNotifier err, TextWriter? log)
    {
        Index = index;
        _size = size;
        _lastAvailable = lastAvailable;
        _eventIndex = eventIndex;
        _call = call;
        _err = err;
        _log = log;
    }

    public int Index { get; }

    public int Size => _size;

    /// <summary>The next available-ring index to take: what GET_VRING_BASE returns.</summary>
    public ushort LastAvailable => _lastAvailable;

    /// <summary>Why the queue is broken, or null.</summary>
    public string? BrokenReason => _broken;

    /// <summary>Chains taken and not yet completed.</summary>
    public int InFlight => _inFlight;

    /// <summary>The bytes each ring part takes for <paramref name="size"/> descriptors (used_event / avail_event included).</summary>
    public static (ulong Descriptors, ulong Available, ulong Used) RingSizes(int size) =>
        ((ulong)size * DescriptorSize, 6 + (2 * (ulong)size), 6 + (8 * (ulong)size));

    /// <summary>
    /// A queue over the rings <paramref name="address"/> names (front-end addresses), starting at available index
    /// <paramref name="lastAvailable"/> (SET_VRING_BASE) and at the used index the ring holds; null, with
    /// <paramref name="error"/> saying why, when the rings cannot be used (unaligned, outside guest memory).
    /// </summary>
    public static SplitVirtqueue? Open(int index, ushort size, VringAddress address, ushort lastAvailable, bool eventIndex,
        GuestMemory memory, EventNotifier call, EventNotifier err, TextWriter? log, out string? error)
    {
        var queue = new SplitVirtqueue(index, size, lastAvailable, eventIndex, call, err, log);
        error = queue.Map(memory, address);
        if (error is not null)
        {
            return null;
        }
        queue._usedIndex = Volatile.Read(ref *(ushort*)(queue._used + 2));
        if (eventIndex)
        {
            queue.WriteAvailableEvent(lastAvailable);
        }
        return queue;
    }

    /// <summary>Points the queue at the same rings in a new memory table (SET_MEM_TABLE, SET_VRING_ADDR while running); null on success.</summary>
    public string? Remap(GuestMemory memory, VringAddress address)
    {
        string? error = Map(memory, address);
        if (error is not null)
        {
            // The old mappings are about to go: nothing may reach them through this queue any more.
            Break($"after a memory or ring address change: {error}");
            Close();
        }
        return error;
    }

    /// <summary>The device stopped: the queue is off guest memory for good.</summary>
    public void Close()
    {
        _memory = null;
        _descriptors = _available = _used = null;
    }

    public bool TryTake(out VirtqueueChain chain)
    {
        chain = null!;
        EnsureUsable();
        if (_broken is not null)
        {
            throw new VirtqueueException(_broken);
        }
        ushort availableIndex = Volatile.Read(ref *(ushort*)(_available + 2));
        if (availableIndex == _lastAvailable)
        {
            if (!_eventIndex)
            {
                return false;
            }
            // Ask to be kicked for the next buffer, then look again: a buffer added before the driver could see
            // avail_event would otherwise come without a kick.
            WriteAvailableEvent(_lastAvailable);
            Interlocked.MemoryBarrier();
            availableIndex = Volatile.Read(ref *(ushort*)(_available + 2));
            if (availableIndex == _lastAvailable)
            {
                return false;
            }
        }
        if ((ushort)(availableIndex - _lastAvailable) > _size)
        {
            Fail($"the available index moved from {_lastAvailable} to {availableIndex}, more than the queue size {_size}");
        }
        ushort head = *(ushort*)(_available + 4 + (2 * (_lastAvailable % _size)));
        chain = Walk(head);
        _lastAvailable++;
        _inFlight++;
        if (_eventIndex)
        {
            WriteAvailableEvent(_lastAvailable);
        }
        return true;
    }

    public void Complete(VirtqueueChain chain, uint bytesWritten)
    {
        ArgumentNullException.ThrowIfNull(chain);
        EnsureUsable();
        if (bytesWritten > (uint)chain.WritableLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bytesWritten), bytesWritten, $"queue {Index}: chain {chain.Head} has {chain.WritableLength} writable bytes");
        }
        if (_inFlight == 0)
        {
            throw new InvalidOperationException($"queue {Index}: chain {chain.Head} completed, but no chain is in flight");
        }
        byte* element = _used + 4 + (8 * (_usedIndex % _size));
        *(uint*)element = chain.Head;
        *(uint*)(element + 4) = bytesWritten;
        _usedIndex++;
        Volatile.Write(ref *(ushort*)(_used + 2), _usedIndex);
        _inFlight--;
        _completedSinceNotify = true;
    }

    public void NotifyDriver()
    {
        EnsureUsable();
        if (!_completedSinceNotify)
        {
            return;
        }
        _completedSinceNotify = false;
        // used.idx must be visible to the driver before its suppression fields are read (virtio 1.2 §2.7.10).
        Interlocked.MemoryBarrier();
        bool notify;
        if (_eventIndex)
        {
            ushort usedEvent = Volatile.Read(ref *(ushort*)(_available + 4 + (2 * _size)));
            ushort old = _signalledUsed;
            bool valid = _signalledUsedValid;
            _signalledUsed = _usedIndex;
            _signalledUsedValid = true;
            notify = !valid || NeedEvent(usedEvent, _usedIndex, old);
        }
        else
        {
            notify = (Volatile.Read(ref *(ushort*)_available) & AvailableNoInterrupt) == 0;
        }
        if (notify)
        {
            _call.Signal();
        }
    }

    /// <summary>vring_need_event: whether <paramref name="eventIndex"/> lies in [<paramref name="old"/>, <paramref name="newIndex"/>), in u16 arithmetic.</summary>
    public static bool NeedEvent(ushort eventIndex, ushort newIndex, ushort old) =>
        (ushort)(newIndex - eventIndex - 1) < (ushort)(newIndex - old);

    private string? Map(GuestMemory memory, VringAddress address)
    {
        var (descriptorBytes, availableBytes, usedBytes) = RingSizes(_size);
        if (address.Descriptors % 16 != 0 || address.Available % 2 != 0 || address.Used % 4 != 0)
        {
            return $"misaligned rings (descriptors 0x{address.Descriptors:x}, available 0x{address.Available:x}, used 0x{address.Used:x})";
        }
        byte* descriptors = memory.TranslateUser(address.Descriptors, descriptorBytes);
        byte* available = memory.TranslateUser(address.Available, availableBytes);
        byte* used = memory.TranslateUser(address.Used, usedBytes);
        if (descriptors is null || available is null || used is null)
        {
            string which = descriptors is null ? $"descriptor table 0x{address.Descriptors:x}+{descriptorBytes}"
                : available is null ? $"available ring 0x{address.Available:x}+{availableBytes}"
                : $"used ring 0x{address.Used:x}+{usedBytes}";
            return $"the {which} is not inside one guest memory region";
        }
        _memory = memory;
        _descriptors = descriptors;
        _available = available;
        _used = used;
        return null;
    }

    private VirtqueueChain Walk(ushort head)
    {
        if (head >= _size)
        {
            Fail($"the available ring names head {head}, beyond the queue size {_size}");
        }
        _readable.Clear();
        _writable.Clear();
        long readableLength = 0;
        long writableLength = 0;
        bool writing = false;
        ushort index = head;
        for (int count = 1; ; count++)
        {
            if (count > _size)
            {
                Fail($"the chain from head {head} has more than {_size} descriptors: it loops");
            }
            byte* descriptor = _descriptors + (index * DescriptorSize);
            ulong address = *(ulong*)descriptor;
            uint length = *(uint*)(descriptor + 8);
            ushort flags = *(ushort*)(descriptor + 12);
            ushort next = *(ushort*)(descriptor + 14);
            if ((flags & DescriptorIndirect) != 0)
            {
                Fail($"descriptor {index} (chain {head}) is INDIRECT, which was not negotiated");
            }
            List<Memory<byte>> segments;
            if ((flags & DescriptorWrite) != 0)
            {
                writing = true;
                writableLength += length;
                segments = _writable;
            }
            else
            {
                if (writing)
                {
                    Fail($"descriptor {index} (chain {head}) is readable but follows a writable one");
                }
                readableLength += length;
                segments = _readable;
            }
            if (readableLength > int.MaxValue || writableLength > int.MaxValue)
            {
                Fail($"the chain from head {head} is longer than 2 GiB");
            }
            if (!_memory!.TryAppendSegments(address, length, segments))
            {
                Fail($"descriptor {index} (chain {head}) points outside guest memory: 0x{address:x}, {length} bytes");
            }
            if ((flags & DescriptorNext) == 0)
            {
                break;
            }
            if (next >= _size)
            {
                Fail($"descriptor {index} (chain {head}) continues at {next}, beyond the queue size {_size}");
            }
            index = next;
        }
        return new VirtqueueChain(head, [.. _readable], [.. _writable]);
    }

    private void WriteAvailableEvent(ushort value) => Volatile.Write(ref *(ushort*)(_used + 4 + (8 * _size)), value);

    private void EnsureUsable()
    {
        if (_memory is null)
        {
            throw _broken is not null
                ? new VirtqueueException(_broken)
                : new InvalidOperationException($"queue {Index} is stopped: the device used it after Stop");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Fail(string reason)
    {
        Break(reason);
        throw new VirtqueueException(_broken!);
    }

    private void Break(string reason)
    {
        if (_broken is not null)
        {
            return;
        }
        _broken = $"queue {Index}: {reason}";
        _readable.Clear();
        _writable.Clear();
        _log?.WriteLine($"vhost-user: {_broken}; the queue is broken until the driver resets the device");
        _err.Signal();
    }
}
