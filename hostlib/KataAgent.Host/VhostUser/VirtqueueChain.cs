namespace KataAgent.Host.VhostUser;

/// <summary>
/// A descriptor chain taken from a virtqueue: the driver-readable buffers (what the device reads), then the
/// writable ones (what the device fills), as views of guest memory. Valid only until the device releases its
/// queue lock (see <see cref="IVhostUserDevice"/>).
/// </summary>
internal sealed class VirtqueueChain
{
    private readonly Memory<byte>[] _readable;
    private readonly Memory<byte>[] _writable;

    public VirtqueueChain(ushort head, Memory<byte>[] readable, Memory<byte>[] writable)
    {
        Head = head;
        _readable = readable;
        _writable = writable;
        ReadableLength = Sum(readable);
        WritableLength = Sum(writable);
    }

    /// <summary>The head descriptor's index: what the used ring names.</summary>
    public ushort Head { get; }

    /// <summary>The device-readable buffers, in chain order.</summary>
    public IReadOnlyList<Memory<byte>> Readable => _readable;

    /// <summary>The device-writable buffers, in chain order.</summary>
    public IReadOnlyList<Memory<byte>> Writable => _writable;

    /// <summary>Bytes in the readable part.</summary>
    public int ReadableLength { get; }

    /// <summary>Bytes of room in the writable part.</summary>
    public int WritableLength { get; }

    /// <summary>Copies readable bytes from <paramref name="offset"/> into <paramref name="destination"/>; returns how many.</summary>
    public int Read(int offset, Span<byte> destination)
    {
        int copied = 0;
        int skip = offset;
        foreach (var segment in _readable)
        {
            if (copied == destination.Length)
            {
                break;
            }
            if (skip >= segment.Length)
            {
                skip -= segment.Length;
                continue;
            }
            int length = Math.Min(segment.Length - skip, destination.Length - copied);
            segment.Span.Slice(skip, length).CopyTo(destination.Slice(copied));
            copied += length;
            skip = 0;
        }
        return copied;
    }

    /// <summary>Copies <paramref name="source"/> into the writable part from <paramref name="offset"/>; returns how many bytes fit.</summary>
    public int Write(int offset, ReadOnlySpan<byte> source)
    {
        int written = 0;
        int skip = offset;
        foreach (var segment in _writable)
        {
            if (written == source.Length)
            {
                break;
            }
            if (skip >= segment.Length)
            {
                skip -= segment.Length;
                continue;
            }
            int length = Math.Min(segment.Length - skip, source.Length - written);
            source.Slice(written, length).CopyTo(segment.Span.Slice(skip));
            written += length;
            skip = 0;
        }
        return written;
    }

    private static int Sum(Memory<byte>[] segments)
    {
        int total = 0;
        foreach (var segment in segments)
        {
            total += segment.Length;
        }
        return total;
    }
}
