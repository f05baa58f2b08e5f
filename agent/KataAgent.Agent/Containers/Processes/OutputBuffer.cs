namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// A process's stdout or stderr, kept in the agent until read: bounded (the pump stops reading
/// when it is full, so the process blocks on a full pipe rather than the agent growing without
/// limit), and readable after the process has exited. End of stream is an empty read, as Kata's
/// ReadStdout returns it.
/// </summary>
public sealed class OutputBuffer
{
    private readonly object _gate = new();
    private readonly Queue<byte[]> _chunks = new();
    private readonly int _capacity;
    private int _chunkOffset;
    private int _buffered;
    private bool _completed;
    private TaskCompletionSource _dataOrEnd = NewSignal();
    private TaskCompletionSource _space = NewSignal();

    public OutputBuffer(int capacity = 1024 * 1024)
    {
        _capacity = capacity;
    }

    public int Buffered
    {
        get
        {
            lock (_gate)
            {
                return _buffered;
            }
        }
    }

    /// <summary>Pump side: appends, waiting while the buffer is full.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_buffered < _capacity)
                {
                    _chunks.Enqueue(data.ToArray());
                    _buffered += data.Length;
                    _dataOrEnd.TrySetResult();
                    return;
                }
                wait = _space.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Pump side: no more data will come.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            _dataOrEnd.TrySetResult();
        }
    }

    /// <summary>Reads up to <paramref name="maxBytes"/>, waiting for data; an empty result means end of stream.</summary>
    public async Task<byte[]> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_buffered > 0)
                {
                    return Take(maxBytes);
                }
                if (_completed)
                {
                    return [];
                }
                if (_dataOrEnd.Task.IsCompleted)
                {
                    _dataOrEnd = NewSignal();
                }
                wait = _dataOrEnd.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private byte[] Take(int maxBytes)
    {
        int count = Math.Min(maxBytes, _buffered);
        var result = new byte[count];
        int copied = 0;
        while (copied < count)
        {
            byte[] chunk = _chunks.Peek();
            int n = Math.Min(count - copied, chunk.Length - _chunkOffset);
            Array.Copy(chunk, _chunkOffset, result, copied, n);
            copied += n;
            _chunkOffset += n;
            if (_chunkOffset == chunk.Length)
            {
                _chunks.Dequeue();
                _chunkOffset = 0;
            }
        }
        _buffered -= count;
        var space = _space;
        _space = NewSignal();
        space.TrySetResult();
        return result;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
