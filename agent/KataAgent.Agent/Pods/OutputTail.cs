namespace KataAgent.Agent.Pods;

/// <summary>
/// The last <see cref="Capacity"/> bytes written to it, from several writers (a gate's stdout and stderr): a ring,
/// so a gate that prints without end costs the agent no more than this.
/// </summary>
internal sealed class OutputTail(int capacity = OutputTail.DefaultCapacity)
{
    /// <summary>What GateStatus.output holds at most: 64 KiB.</summary>
    public const int DefaultCapacity = 64 * 1024;

    private readonly byte[] _ring = new byte[capacity];
    private long _written;

    public int Capacity => _ring.Length;

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_ring)
        {
            if (data.Length >= _ring.Length)
            {
                data = data[^_ring.Length..];
            }
            int start = (int)(_written % _ring.Length);
            int first = Math.Min(data.Length, _ring.Length - start);
            data[..first].CopyTo(_ring.AsSpan(start));
            data[first..].CopyTo(_ring);
            _written += data.Length;
        }
    }

    /// <summary>The bytes kept, oldest first.</summary>
    public byte[] ToArray()
    {
        lock (_ring)
        {
            if (_written <= _ring.Length)
            {
                return _ring[..(int)_written];
            }
            int start = (int)(_written % _ring.Length);
            return [.. _ring[start..], .. _ring[..start]];
        }
    }
}
