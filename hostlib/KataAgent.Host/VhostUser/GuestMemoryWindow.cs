using System.Buffers;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// Up to <see cref="MaxLength"/> bytes of a mapped guest memory region as a <see cref="MemoryManager{T}"/>, so
/// chains hand out <see cref="Memory{T}"/> views of guest RAM without copying. A region larger than an int can
/// index is cut into several windows; a buffer that crosses a window's end becomes two segments, as one that
/// crosses a region's end does. Once the mapping is gone (<see cref="Invalidate"/>) every view of it throws
/// <see cref="ObjectDisposedException"/> instead of reading unmapped memory.
/// </summary>
internal sealed unsafe class GuestMemoryWindow : MemoryManager<byte>
{
    /// <summary>1 GiB: a power of two an int indexes, so window boundaries are cheap to find.</summary>
    public const int MaxLength = 1 << 30;

    private readonly byte* _start;
    private readonly int _length;
    private volatile bool _invalid;

    public GuestMemoryWindow(byte* start, int length)
    {
        _start = start;
        _length = length;
    }

    /// <summary>Bytes in the window.</summary>
    public int Length => _length;

    /// <summary>A view of <paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    public Memory<byte> Slice(int offset, int length) => CreateMemory(offset, length);

    /// <summary>The mapping is about to go: no view may reach it any more.</summary>
    public void Invalidate() => _invalid = true;

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_invalid, this);
        return new Span<byte>(_start, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_invalid, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle(_start + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
