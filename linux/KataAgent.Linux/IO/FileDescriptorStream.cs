using KataAgent.Linux.Interop;

namespace KataAgent.Linux.IO;

/// <summary>
/// A full-duplex <see cref="Stream"/> over a character device, pty or socket fd that .NET's types do not
/// carry (virtio-serial ports, terminals, AF_VSOCK), where .NET's FileStream neither allows a concurrent
/// read and write nor lets a blocked read be woken. The fd is switched to non-blocking. An asynchronous
/// call first reads what has arrived, or writes what the fd takes, on the caller's thread; only an empty
/// or full fd moves the call to the pool, where it polls the fd together with an eventfd that
/// <see cref="Dispose(bool)"/> signals, so a pending read ends promptly.
/// </summary>
/// <remarks>
/// End of stream is a read of 0 bytes, and also EIO: that is how a pty slave reports that its
/// master went away, and the virtio-serial port how it reports that the host side closed.
/// </remarks>
internal sealed unsafe class FileDescriptorStream : Stream
{
    private readonly SafeFileDescriptor _handle;
    private readonly SafeFileDescriptor _wake;
    // Raw copies for the calls, which run between Enter and Exit: Dispose closes the handles only after the last
    // call has left, so the numbers stay valid for them.
    private readonly int _fd;
    private readonly int _wakeFd;
    private int _disposed;
    private int _activeCalls;

    public FileDescriptorStream(int fd, bool ownsFd)
    {
        int flags = Libc.Check(Libc.Fcntl(fd, Libc.F_GETFL, 0), "fcntl(F_GETFL)");
        Libc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK), "fcntl(F_SETFL, O_NONBLOCK)");
        _wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        _handle = new SafeFileDescriptor(fd, ownsHandle: ownsFd);
        _fd = fd;
        _wakeFd = (int)_wake.DangerousGetHandle();
    }

    /// <summary>The underlying fd (-1 after dispose).</summary>
    public int Fd => Volatile.Read(ref _disposed) == 0 ? _fd : -1;

    public override bool CanRead => _disposed == 0;

    public override bool CanWrite => _disposed == 0;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        Enter();
        try
        {
            int read;
            while (!ReadOnce(buffer, out read))
            {
                if (!WaitFor(Libc.POLLIN))
                {
                    return 0;
                }
            }
            return read;
        }
        finally
        {
            Exit();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Enter();
        try
        {
            while (true)
            {
                buffer = buffer[WriteOnce(buffer)..];
                if (buffer.IsEmpty)
                {
                    return;
                }
                if (!WaitFor(Libc.POLLOUT))
                {
                    throw new IOException("write: the stream was closed");
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (buffer.IsEmpty)
        {
            return new ValueTask<int>(0);
        }
        // What has arrived is taken at once, on the caller's thread; only an empty fd waits, on the pool. A failure
        // comes back in the task, as from the pool.
        try
        {
            if (TryReadNow(buffer.Span, out int read))
            {
                return new ValueTask<int>(read);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return ValueTask.FromException<int>(e);
        }
        return new ValueTask<int>(RunBlocking(() => Read(buffer.Span), cancellationToken));
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Most writes complete at once, on the caller's thread; only the part a full device buffer leaves waits in
        // poll, on the pool.
        int written;
        try
        {
            written = WriteNow(buffer.Span);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return ValueTask.FromException(e);
        }
        if (written == buffer.Length)
        {
            return ValueTask.CompletedTask;
        }
        var rest = buffer[written..];
        return new ValueTask(RunBlocking(() =>
        {
            Write(rest.Span);
            return 0;
        }, cancellationToken));
    }

    /// <summary>One read without waiting, from any thread: false when nothing has arrived (EAGAIN).</summary>
    private bool TryReadNow(Span<byte> buffer, out int read)
    {
        Enter();
        try
        {
            return ReadOnce(buffer, out read);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Writes what the fd takes without waiting, from any thread; how many bytes that was.</summary>
    private int WriteNow(ReadOnlySpan<byte> buffer)
    {
        Enter();
        try
        {
            return WriteOnce(buffer);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// read(2) once, retried on EINTR, between <see cref="Enter"/> and <see cref="Exit"/>: false when nothing has
    /// arrived (EAGAIN); a read of 0 at end of stream, and also on EIO.
    /// </summary>
    private bool ReadOnce(Span<byte> buffer, out int read)
    {
        int n = Libc.ReadRetryingInterrupts(_fd, buffer);
        switch (n)
        {
            case >= 0:
                read = n;
                return true;
            case -Errno.EAGAIN:
                read = 0;
                return false;
            case -Errno.EIO:
                read = 0;
                return true;
            default:
                throw new LinuxException("read", -n);
        }
    }

    /// <summary>write(2) until the fd takes no more (EAGAIN) or all is written, between <see cref="Enter"/> and <see cref="Exit"/>; the bytes written.</summary>
    private int WriteOnce(ReadOnlySpan<byte> buffer)
    {
        int written = 0;
        while (written < buffer.Length)
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = Libc.Write(_fd, p + written, (nuint)(buffer.Length - written));
            }
            if (n >= 0)
            {
                written += (int)n;
                continue;
            }
            var error = LinuxException.FromLastError("write");
            switch (error.Errno)
            {
                case Errno.EAGAIN:
                    return written;
                case Errno.EINTR:
                    break;
                default:
                    throw error;
            }
        }
        return written;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Wake();
        // Calls in flight see the wake-up and leave; only then may the fds go.
        SpinWait spin = default;
        while (Volatile.Read(ref _activeCalls) > 0)
        {
            spin.SpinOnce();
        }
        _handle.Dispose();
        _wake.Dispose();
        base.Dispose(disposing);
    }

    private Task<int> RunBlocking(Func<int> operation, CancellationToken cancellationToken)
    {
        // A cancelled read or write leaves the stream in an unknown state, as with sockets: close it.
        var registration = cancellationToken.CanBeCanceled ? cancellationToken.Register(static s => ((FileDescriptorStream)s!).Dispose(), this) : default;
        return Task.Run(() =>
        {
            using (registration)
            {
                try
                {
                    return operation();
                }
                catch (ObjectDisposedException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }
        }, CancellationToken.None);
    }

    /// <summary>Waits until the fd is ready for <paramref name="events"/>; false once the stream is disposed.</summary>
    private bool WaitFor(short events)
    {
        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        while (true)
        {
            fds[0] = new Libc.PollFd { Fd = _fd, Events = events };
            fds[1] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
            int ready = Libc.Poll(fds, 2, -1);
            if (ready < 0)
            {
                var error = LinuxException.FromLastError("poll");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                throw error;
            }
            if (fds[1].Revents != 0)
            {
                return false;
            }
            // POLLHUP/POLLERR: let the next read or write report what happened.
            return true;
        }
    }

    private void Wake() => Libc.EventFdWrite(_wakeFd);

    private void Enter()
    {
        Interlocked.Increment(ref _activeCalls);
        if (Volatile.Read(ref _disposed) == 1)
        {
            Interlocked.Decrement(ref _activeCalls);
            throw new ObjectDisposedException(nameof(FileDescriptorStream));
        }
    }

    private void Exit() => Interlocked.Decrement(ref _activeCalls);
}
