using KataAgent.Host.VhostUser;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// The guest driver's side of one split virtqueue, laid out in <see cref="TestGuest"/>'s memory: it writes
/// descriptors and the available ring, and reads the used ring, as a virtio driver does.
/// </summary>
internal sealed unsafe class TestRing
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    private TestGuest _guest;
    private ushort _availableIndex;
    private ushort _nextDescriptor;

    public TestRing(TestGuest guest, int index, ushort size, ulong descriptors)
    {
        _guest = guest;
        Index = index;
        Size = size;
        Descriptors = descriptors;
        var (descriptorBytes, availableBytes, _) = SplitVirtqueue.RingSizes(size);
        Available = descriptors + descriptorBytes;
        Used = (Available + availableBytes + 3) & ~3UL;
    }

    public int Index { get; }

    /// <summary>The driver goes on in <paramref name="guest"/>, which holds a copy of the rings (memory replaced under them).</summary>
    public void MoveTo(TestGuest guest) => _guest = guest;

    public ushort Size { get; }

    public ulong Descriptors { get; }

    public ulong Available { get; }

    public ulong Used { get; }

    /// <summary>SET_VRING_ADDR's payload: ring addresses in the front-end's space, log as the used ring's guest address (qemu does that).</summary>
    public VringAddress Address => new((uint)Index, 0, _guest.UserAddress(Descriptors), _guest.UserAddress(Used), _guest.UserAddress(Available), Used);

    public ushort UsedIndex => Volatile.Read(ref *(ushort*)_guest.Host(Used + 2));

    /// <summary>avail_event, which the device writes at the used ring's end (EVENT_IDX).</summary>
    public ushort AvailableEvent => Volatile.Read(ref *(ushort*)_guest.Host(Used + 4 + (8UL * Size)));

    /// <summary>used_event, which the driver writes at the available ring's end (EVENT_IDX).</summary>
    public ushort UsedEvent
    {
        set => Volatile.Write(ref *(ushort*)_guest.Host(Available + 4 + (2UL * Size)), value);
    }

    /// <summary>avail.flags (NO_INTERRUPT = 1).</summary>
    public ushort AvailableFlags
    {
        set => Volatile.Write(ref *(ushort*)_guest.Host(Available), value);
    }

    public (uint Id, uint Length) UsedElement(ushort index)
    {
        byte* element = _guest.Host(Used + 4 + (8UL * (ushort)(index % Size)));
        return (*(uint*)element, *(uint*)(element + 4));
    }

    /// <summary>A chain of <paramref name="buffers"/> made available; returns its head.</summary>
    public ushort Post(params (ulong Address, uint Length, bool Writable)[] buffers)
    {
        ushort head = _nextDescriptor;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((head + i) % Size);
            bool last = i == buffers.Length - 1;
            WriteDescriptor(index, buffers[i].Address, buffers[i].Length,
                (ushort)((buffers[i].Writable ? Write : 0) | (last ? 0 : Next)), (ushort)((index + 1) % Size));
        }
        _nextDescriptor = (ushort)((head + buffers.Length) % Size);
        Publish(head);
        return head;
    }

    /// <summary>Puts <paramref name="head"/> on the available ring as it is, whatever the descriptors say.</summary>
    public void Publish(ushort head)
    {
        *(ushort*)_guest.Host(Available + 4 + (2UL * (ushort)(_availableIndex % Size))) = head;
        _availableIndex++;
        Volatile.Write(ref *(ushort*)_guest.Host(Available + 2), _availableIndex);
    }

    /// <summary>Sets avail.idx directly (a driver that jumps it).</summary>
    public void SetAvailableIndex(ushort value)
    {
        _availableIndex = value;
        Volatile.Write(ref *(ushort*)_guest.Host(Available + 2), value);
    }

    public void WriteDescriptor(ushort index, ulong address, uint length, ushort flags, ushort next)
    {
        byte* descriptor = _guest.Host(Descriptors + (16UL * index));
        *(ulong*)descriptor = address;
        *(uint*)(descriptor + 8) = length;
        *(ushort*)(descriptor + 12) = flags;
        *(ushort*)(descriptor + 14) = next;
    }

    /// <summary>Rings that already went round to <paramref name="index"/> (both avail.idx and used.idx), as a driver that ran long has them.</summary>
    public void StartAt(ushort index)
    {
        SetAvailableIndex(index);
        Volatile.Write(ref *(ushort*)_guest.Host(Used + 2), index);
    }

    /// <summary>The driver's reset: the rings zeroed, its indices back to 0.</summary>
    public void Reset()
    {
        var (_, _, usedBytes) = SplitVirtqueue.RingSizes(Size);
        _guest.Clear(Descriptors, (int)(Used + usedBytes - Descriptors));
        _availableIndex = 0;
        _nextDescriptor = 0;
    }
}
