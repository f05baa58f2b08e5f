namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// A process's stdout or stderr, kept in the agent until read: bounded (the pump stops reading
/// when it is full, so the process blocks on a full pipe rather than the agent growing without
/// limit), and readable after the process has exited. End of stream is an empty read, as Kata's
/// ReadStdout returns it. The last <see cref="Retained"/> bytes handed to readers are kept, so that a reader whose
/// connection broke with data in flight (a restored checkpoint) can resume at the offset it really received
/// (<see cref="Resume"/>).
/// </summary>
public sealed class OutputBuffer
{
    private readonly object _gate = new();
    private readonly Queue<byte[]> _chunks = new();
    private readonly int _capacity;
    private int _chunkOffset;
    private int _buffered;
    private bool _completed;
    private readonly LinkedList<byte[]> _sent = new();
    private long _sentBytes;
    private long _taken;
    private int _generation;
    private TaskCompletionSource _dataOrEnd = NewSignal();
    private TaskCompletionSource _space = NewSignal();

    public OutputBuffer(int capacity = 1024 * 1024, int retained = 1024 * 1024)
    {
        _capacity = capacity;
        Retained = retained;
    }

    /// <summary>How many of the bytes last handed to readers are kept for <see cref="Resume"/>.</summary>
    public int Retained { get; }

    /// <summary>Bytes handed to readers since the process started (the offset the next read starts at).</summary>
    public long Taken
    {
        get
        {
            lock (_gate)
            {
                return _taken;
            }
        }
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
    public Task<byte[]> ReadAsync(int maxBytes, CancellationToken cancellationToken) => ReadAsync(maxBytes, -1, cancellationToken);

    /// <summary>
    /// As <see cref="ReadAsync(int, CancellationToken)"/>, for the reader <paramref name="generation"/> (one
    /// <see cref="Resume"/> returned; -1 for any): once another reader has resumed, this one's read ends with
    /// <see cref="OperationCanceledException"/> and takes nothing, so that nothing goes to a reader nobody listens to.
    /// </summary>
    public async Task<byte[]> ReadAsync(int maxBytes, int generation, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (generation >= 0 && generation != _generation)
                {
                    throw new OperationCanceledException("another reader resumed this output");
                }
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
        _taken += count;
        _sent.AddLast(result);
        _sentBytes += count;
        while (_sent.First is { } oldest && _sentBytes - oldest.Value.Length >= Retained)
        {
            _sentBytes -= oldest.Value.Length;
            _sent.RemoveFirst();
        }
        var space = _space;
        _space = NewSignal();
        space.TrySetResult();
        return result;
    }

    /// <summary>
    /// Makes the next read start at byte <paramref name="offset"/> of the output: what was handed out after it (and
    /// never arrived) is put back in front. Returns the new reader's generation; earlier readers' reads end.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is past what was handed out.</exception>
    /// <exception cref="OutputLostException">The offset is before what is still kept: that output is lost.</exception>
    public int Resume(long offset)
    {
        lock (_gate)
        {
            CheckResumable(offset, nameof(offset));
            return Rewind(offset);
        }
    }

    /// <summary>
    /// <see cref="Resume(long)"/> of a process's two outputs as one step: both offsets are checked before either
    /// output is rewound, so a refused offset leaves both outputs, and their current readers, as they were.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An offset is past what was handed out (its parameter named).</exception>
    /// <exception cref="OutputLostException">An offset is before what is still kept (its parameter named).</exception>
    public static (int Stdout, int Stderr) Resume(OutputBuffer stdout, long stdoutOffset, OutputBuffer stderr, long stderrOffset)
    {
        // Always stdout's lock first: the one order every caller takes.
        lock (stdout._gate)
        {
            lock (stderr._gate)
            {
                stdout.CheckResumable(stdoutOffset, nameof(stdoutOffset));
                stderr.CheckResumable(stderrOffset, nameof(stderrOffset));
                return (stdout.Rewind(stdoutOffset), stderr.Rewind(stderrOffset));
            }
        }
    }

    private void CheckResumable(long offset, string parameter)
    {
        if (offset < 0 || offset > _taken)
        {
            throw new ArgumentOutOfRangeException(parameter, offset, $"is past the {_taken} bytes sent so far");
        }
        if (_taken - offset > _sentBytes)
        {
            throw new OutputLostException(parameter, $"offset {offset} is before the last {Math.Min(_sentBytes, Retained)} bytes sent, which is all that is kept");
        }
    }

    /// <summary>The rewind itself, under the lock, once <see cref="CheckResumable"/> has passed.</summary>
    private int Rewind(long offset)
    {
        long back = _taken - offset;
        if (back > 0)
        {
            var replay = new byte[back];
            long need = back;
            while (need > 0)
            {
                byte[] last = _sent.Last!.Value;
                int n = (int)Math.Min(need, last.Length);
                Array.Copy(last, last.Length - n, replay, need - n, n);
                need -= n;
                if (n == last.Length)
                {
                    _sent.RemoveLast();
                }
                else
                {
                    _sent.Last.Value = last[..^n];
                }
            }
            _sentBytes -= back;
            var rest = _chunks.ToArray();
            _chunks.Clear();
            _chunks.Enqueue(replay);
            for (int i = 0; i < rest.Length; i++)
            {
                _chunks.Enqueue(i == 0 && _chunkOffset > 0 ? rest[0][_chunkOffset..] : rest[i]);
            }
            _chunkOffset = 0;
            _buffered += (int)back;
            _taken = offset;
        }
        _generation++;
        // A reader waiting for data wakes, sees it is no longer the current one, and ends.
        _dataOrEnd.TrySetResult();
        return _generation;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
