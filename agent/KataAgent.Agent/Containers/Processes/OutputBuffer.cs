namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// A process's stdout or stderr, kept in the agent until read: bounded (the pump stops reading
/// when it is full, so the process blocks on a full pipe rather than the agent growing without
/// limit), and readable after the process has exited. End of stream is an empty read, as Kata's
/// ReadStdout returns it. The last <see cref="Retained"/> bytes handed to readers are kept, so that a reader whose
/// connection broke with data in flight (a restored checkpoint) can resume at the offset it really received
/// (<see cref="Resume"/>).
/// </summary>
/// <remarks>
/// The bytes live in segments the pump reads into directly (<see cref="GetWriteMemory"/>, <see cref="Advance"/>),
/// and readers get slices of them (<see cref="ReadChunkAsync"/>): nothing is copied between the pipe and the frame a
/// reader sends. A byte once written never changes and its segment is never reused, so a slice stays valid for as long
/// as anyone holds it. Segments start small and double up to <see cref="MaxSegmentSize"/>, so a process that prints a
/// line holds a few KiB, not 64.
/// </remarks>
public sealed class OutputBuffer
{
    /// <summary>The largest segment: below the runtime's large-object threshold, so segments die young and cheaply.</summary>
    public const int MaxSegmentSize = 64 * 1024;
    private const int FirstSegmentSize = 4 * 1024;

    private readonly object _gate = new();
    private readonly int _capacity;
    /// <summary>Written and not yet taken, oldest first, before the tail's unread part.</summary>
    private readonly LinkedList<ReadOnlyMemory<byte>> _unread = new();
    /// <summary>Taken by readers, newest last, at least <see cref="Retained"/> bytes' worth while there were that many.</summary>
    private readonly LinkedList<ReadOnlyMemory<byte>> _sent = new();
    /// <summary>The segment the pump writes into: [0, _tailTaken) is in <see cref="_unread"/> or taken, [_tailTaken, _tailFilled) unread.</summary>
    private byte[]? _tail;
    private int _tailFilled;
    private int _tailTaken;
    private int _nextSegmentSize = FirstSegmentSize;
    private int _buffered;
    private bool _completed;
    private long _sentBytes;
    private long _taken;
    private int _generation;
    private TaskCompletionSource _dataOrEnd = NewSignal();
    private TaskCompletionSource? _space;

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

    /// <summary>
    /// Pump side: where the next bytes go, to be followed by <see cref="Advance"/> with how many were written. Empty
    /// while the buffer is full (wait with <see cref="WhenSpaceAsync"/>). One writer at a time.
    /// </summary>
    public Memory<byte> GetWriteMemory()
    {
        lock (_gate)
        {
            if (_buffered >= _capacity)
            {
                return Memory<byte>.Empty;
            }
            if (_tail is null || _tailFilled == _tail.Length)
            {
                if (_tail is not null && _tailFilled > _tailTaken)
                {
                    _unread.AddLast(_tail.AsMemory(_tailTaken, _tailFilled - _tailTaken));
                }
                _tail = GC.AllocateUninitializedArray<byte>(_nextSegmentSize);
                _nextSegmentSize = Math.Min(_nextSegmentSize * 2, MaxSegmentSize);
                _tailFilled = _tailTaken = 0;
            }
            return _tail.AsMemory(_tailFilled);
        }
    }

    /// <summary>Pump side: <paramref name="count"/> bytes were written into what <see cref="GetWriteMemory"/> gave.</summary>
    public void Advance(int count)
    {
        if (count <= 0)
        {
            return;
        }
        lock (_gate)
        {
            if (_tail is null || count > _tail.Length - _tailFilled)
            {
                throw new ArgumentOutOfRangeException(nameof(count), count, "is more than the memory GetWriteMemory gave");
            }
            _tailFilled += count;
            _buffered += count;
            _dataOrEnd.TrySetResult();
        }
    }

    /// <summary>Pump side: completes once the buffer has room again (at once when it has).</summary>
    public Task WhenSpaceAsync()
    {
        lock (_gate)
        {
            if (_buffered < _capacity || _completed)
            {
                return Task.CompletedTask;
            }
            _space ??= NewSignal();
            return _space.Task;
        }
    }

    /// <summary>Pump side: appends a copy of <paramref name="data"/>, waiting while the buffer is full.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            Memory<byte> target = GetWriteMemory();
            if (target.IsEmpty)
            {
                await WhenSpaceAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            int n = Math.Min(target.Length, data.Length);
            data.Span[..n].CopyTo(target.Span);
            Advance(n);
            data = data[n..];
        }
    }

    /// <summary>Pump side: no more data will come.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            _dataOrEnd.TrySetResult();
            _space?.TrySetResult();
        }
    }

    /// <summary>Reads up to <paramref name="maxBytes"/>, waiting for data; an empty result means end of stream.</summary>
    public Task<byte[]> ReadAsync(int maxBytes, CancellationToken cancellationToken) => ReadAsync(maxBytes, -1, cancellationToken);

    /// <summary>
    /// As <see cref="ReadAsync(int, CancellationToken)"/>, for the reader <paramref name="generation"/> (one
    /// <see cref="Resume"/> returned; -1 for any): once another reader has resumed, this one's read ends with
    /// <see cref="OperationCanceledException"/> and takes nothing, so that nothing goes to a reader nobody listens to.
    /// The result is one array: what is buffered up to <paramref name="maxBytes"/>, copied out of its segments.
    /// </summary>
    public async Task<byte[]> ReadAsync(int maxBytes, int generation, CancellationToken cancellationToken)
    {
        ReadOnlyMemory<byte> first = await ReadChunkAsync(maxBytes, generation, cancellationToken).ConfigureAwait(false);
        if (first.Length == maxBytes || first.IsEmpty)
        {
            return first.ToArray();
        }
        lock (_gate)
        {
            // Another reader resumed in between: what is buffered now is its.
            int more = generation >= 0 && generation != _generation ? 0 : Math.Min(maxBytes - first.Length, _buffered);
            var result = GC.AllocateUninitializedArray<byte>(first.Length + more);
            first.Span.CopyTo(result);
            int copied = first.Length;
            while (copied < result.Length)
            {
                ReadOnlyMemory<byte> next = Take(result.Length - copied);
                next.Span.CopyTo(result.AsSpan(copied));
                copied += next.Length;
            }
            return result;
        }
    }

    /// <summary>
    /// The next bytes, up to <paramref name="maxBytes"/>, as a slice of a segment (no copy; it stays valid); waits for
    /// data, and is empty at end of stream. A reader that is not the current <paramref name="generation"/> (see
    /// <see cref="ReadAsync(int, int, CancellationToken)"/>) gets <see cref="OperationCanceledException"/>.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadChunkAsync(int maxBytes, int generation, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
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
                    return ReadOnlyMemory<byte>.Empty;
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

    /// <summary>Takes up to <paramref name="maxBytes"/> of the oldest unread bytes (at least one is buffered), under the lock.</summary>
    private ReadOnlyMemory<byte> Take(int maxBytes)
    {
        ReadOnlyMemory<byte> chunk;
        if (_unread.First is { } oldest)
        {
            chunk = oldest.Value;
            if (chunk.Length > maxBytes)
            {
                oldest.Value = chunk[maxBytes..];
                chunk = chunk[..maxBytes];
            }
            else
            {
                _unread.RemoveFirst();
            }
        }
        else
        {
            int n = Math.Min(maxBytes, _tailFilled - _tailTaken);
            chunk = _tail.AsMemory(_tailTaken, n);
            _tailTaken += n;
        }
        _buffered -= chunk.Length;
        _taken += chunk.Length;
        _sent.AddLast(chunk);
        _sentBytes += chunk.Length;
        while (_sent.First is { } kept && _sentBytes - kept.Value.Length >= Retained)
        {
            _sentBytes -= kept.Value.Length;
            _sent.RemoveFirst();
        }
        if (_space is { } space && _buffered < _capacity)
        {
            _space = null;
            space.TrySetResult();
        }
        return chunk;
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
            // The slices sent after the offset go back in front, in their order; the tail's unread part stays where
            // it is, after everything in _unread.
            long need = back;
            while (need > 0)
            {
                var last = _sent.Last!;
                ReadOnlyMemory<byte> slice = last.Value;
                if (slice.Length <= need)
                {
                    _sent.RemoveLast();
                    _unread.AddFirst(slice);
                    need -= slice.Length;
                }
                else
                {
                    int keep = slice.Length - (int)need;
                    last.Value = slice[..keep];
                    _unread.AddFirst(slice[keep..]);
                    need = 0;
                }
            }
            _sentBytes -= back;
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
