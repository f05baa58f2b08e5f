using System.Buffers;

namespace KataAgent.Host.Vsock;

/// <summary>
/// The bytes a connection took from the guest that the host socket has not accepted yet: a ring of at most the
/// buf_alloc we announce (the guest's credit keeps it from overflowing). The array is pooled, rented on the first
/// byte and returned once drained, so hundreds of idle connections hold no buffer.
/// </summary>
/// <remarks>Not thread-safe: the device's lock guards it. The flusher sends from <see cref="PeekContiguous"/>
/// outside the lock, which is safe because appends only ever write the free part of the ring.</remarks>
internal sealed class VsockTxBuffer(int capacity)
{
    private byte[]? _buffer;
    private int _head;
    private int _count;

    /// <summary>The most bytes the ring holds.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Bytes waiting for the host socket.</summary>
    public int Count => _count;

    /// <summary>Nothing waiting.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>Room left.</summary>
    public int Free => Capacity - _count;

    /// <summary>Appends <paramref name="data"/>; the caller checked it fits (<see cref="Free"/>).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length > Free)
        {
            throw new InvalidOperationException($"vsock tx buffer overflow: {data.Length} bytes, {Free} free");
        }
        if (data.IsEmpty)
        {
            return;
        }
        _buffer ??= ArrayPool<byte>.Shared.Rent(Capacity);
        int tail = (_head + _count) % Capacity;
        int first = Math.Min(data.Length, Capacity - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..].CopyTo(_buffer.AsSpan(0));
        _count += data.Length;
    }

    /// <summary>The oldest bytes that lie contiguous in the ring (empty when nothing waits).</summary>
    public ReadOnlyMemory<byte> PeekContiguous() =>
        _count == 0 ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(_head, Math.Min(_count, Capacity - _head));

    /// <summary>Drops the <paramref name="count"/> oldest bytes (the host socket took them); a drained ring gives its array back.</summary>
    public void Consume(int count)
    {
        if (count < 0 || count > _count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"vsock tx buffer holds {_count} bytes");
        }
        _head = (_head + count) % Capacity;
        _count -= count;
        if (_count == 0)
        {
            Release();
        }
    }

    /// <summary>Forgets every byte and returns the array to the pool. Only while nothing sends from it.</summary>
    public void Release()
    {
        _head = 0;
        _count = 0;
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
