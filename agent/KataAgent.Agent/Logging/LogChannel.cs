using System.Text;
using System.Threading.Channels;
using KataAgent.Agent.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Logging;

/// <summary>
/// Copies the agent's log lines to the host: to the virtio-serial port <c>agent.log.0</c> when it
/// exists, and to every reader connected to the log listener (vsock <c>agent.log_vport</c>, as
/// Kata). Logging must never wait for a reader: lines go into a bounded queue that one writer
/// thread drains with non-blocking writes, and a line that finds the queue full, or a reader not
/// ready, is dropped and counted (<see cref="Dropped"/>); the next line that gets through is
/// preceded by a note of how many were lost. The port and the readers are <see cref="SafeFileDescriptor"/>s; a
/// write holds a reference on its fd, so a dispose that gave up waiting for the writer closes nothing under it.
/// </summary>
public sealed unsafe class LogChannel : IDisposable
{
    public const int QueueCapacity = 4096;

    /// <summary>How long a line already half-written may wait for a slow reader before the rest is dropped.</summary>
    private const int PartialLineWaitMilliseconds = 200;
    private static readonly TimeSpan PortRetryInterval = TimeSpan.FromSeconds(2);

    private readonly Channel<string> _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private readonly AgentAddress? _portAddress;
    private readonly StreamListener? _listener;
    private readonly List<SafeFileDescriptor> _readers = [];
    private readonly Thread _writer;
    private readonly Thread? _acceptor;
    /// <summary>The writer thread's until <see cref="Dispose"/> takes it; null while closed.</summary>
    private SafeFileDescriptor? _port;
    private DateTime _nextPortAttempt = DateTime.MinValue;
    private long _dropped;
    private long _reportedDropped;
    private int _disposed;

    /// <param name="portAddress">The serial port to copy lines to when it exists (null: none).</param>
    /// <param name="listenAddress">Where readers connect (vsock:// or unix://; null: none).</param>
    public LogChannel(AgentAddress? portAddress, AgentAddress? listenAddress)
    {
        _portAddress = portAddress;
        if (listenAddress is not null)
        {
            try
            {
                _listener = StreamListener.Listen(listenAddress);
            }
            catch (Exception e) when (e is LinuxException or ArgumentException or IOException)
            {
                ListenProblem = $"log channel: cannot listen on {listenAddress}: {e.Message}";
            }
        }
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "log-channel" };
        _writer.Start();
        if (_listener is not null)
        {
            _acceptor = new Thread(AcceptReaders) { IsBackground = true, Name = "log-channel-accept" };
            _acceptor.Start();
        }
    }

    /// <summary>Why the listener could not be set up (to be logged once logging is up), or null.</summary>
    public string? ListenProblem { get; }

    /// <summary>Lines lost to a full queue or a reader that was not ready.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues one line (without its newline); never blocks.</summary>
    public void Write(string line)
    {
        if (Volatile.Read(ref _disposed) != 0 || !_queue.Writer.TryWrite(line))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Sends what is queued (waiting at most a couple of seconds), then closes every fd.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        _writer.Join(TimeSpan.FromSeconds(2));
        _listener?.Dispose();
        _acceptor?.Join(TimeSpan.FromSeconds(2));
        lock (_readers)
        {
            _readers.ForEach(reader => reader.Dispose());
            _readers.Clear();
        }
        Interlocked.Exchange(ref _port, null)?.Dispose();
    }

    private void WriteLines()
    {
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out string? line))
            {
                long dropped = Interlocked.Read(ref _dropped);
                if (dropped != _reportedDropped)
                {
                    Send($"{DateTime.UtcNow:HH:mm:ss.fff} warn: kata-agent: {dropped - _reportedDropped} log line(s) dropped: the log channel was full or its reader slow");
                    _reportedDropped = dropped;
                }
                Send(line);
            }
        }
    }

    private void Send(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        var port = Port();
        if (port is not null && !WriteLine(port, bytes))
        {
            // The port went away (a hang-up reads as EIO): reopen it later.
            Interlocked.CompareExchange(ref _port, null, port);
            port.Dispose();
        }
        lock (_readers)
        {
            for (int i = _readers.Count - 1; i >= 0; i--)
            {
                if (!WriteLine(_readers[i], bytes))
                {
                    _readers[i].Dispose();
                    _readers.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>The port, opened on first use and again after it failed (not more often than every few seconds); null while there is none.</summary>
    private SafeFileDescriptor? Port()
    {
        var port = Volatile.Read(ref _port);
        if (port is not null || _portAddress is null || DateTime.UtcNow < _nextPortAttempt)
        {
            return port;
        }
        _nextPortAttempt = DateTime.UtcNow + PortRetryInterval;
        int fd = SerialPortDevice.TryOpen(_portAddress, requireHost: false, out _);
        if (fd < 0)
        {
            return null;
        }
        port = new SafeFileDescriptor(fd);
        Interlocked.Exchange(ref _port, port);
        if (Volatile.Read(ref _disposed) != 0)
        {
            // Opened after a dispose that stopped waiting for this thread, which may have missed it: close it here.
            Interlocked.CompareExchange(ref _port, null, port);
            port.Dispose();
            return null;
        }
        return port;
    }

    /// <summary>
    /// Writes a whole line without blocking for long: a reader with no room drops the line (counted);
    /// a line begun is finished if the reader makes room soon. False when the fd failed or was disposed.
    /// </summary>
    private bool WriteLine(SafeFileDescriptor handle, byte[] bytes)
    {
        bool referenced = false;
        try
        {
            handle.DangerousAddRef(ref referenced);
            return WriteLine((int)handle.DangerousGetHandle(), bytes);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (referenced)
            {
                handle.DangerousRelease();
            }
        }
    }

    private bool WriteLine(int fd, byte[] bytes)
    {
        int offset = 0;
        fixed (byte* p = bytes)
        {
            while (offset < bytes.Length)
            {
                nint n = Libc.Write(fd, p + offset, (nuint)(bytes.Length - offset));
                if (n > 0)
                {
                    offset += (int)n;
                    continue;
                }
                int errno = n == 0 ? Errno.EAGAIN : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                if (errno != Errno.EAGAIN)
                {
                    return false;
                }
                var poll = new Libc.PollFd { Fd = fd, Events = Libc.POLLOUT };
                if (offset == 0 || Libc.Poll(&poll, 1, PartialLineWaitMilliseconds) <= 0)
                {
                    Interlocked.Increment(ref _dropped);
                    Interlocked.Increment(ref _reportedDropped);
                    if (offset > 0)
                    {
                        // Cut the line off so the next one starts on a line of its own.
                        byte newline = (byte)'\n';
                        Libc.Write(fd, &newline, 1);
                    }
                    return true;
                }
            }
        }
        return true;
    }

    private void AcceptReaders()
    {
        while (true)
        {
            int fd;
            try
            {
                fd = _listener!.Accept();
            }
            catch (Exception e) when (e is LinuxException or ObjectDisposedException)
            {
                return;
            }
            if (fd < 0)
            {
                return;
            }
            var reader = new SafeFileDescriptor(fd);
            int flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
            Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK);
            lock (_readers)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    // Accepted while Dispose ran: it has closed the readers already.
                    reader.Dispose();
                    return;
                }
                _readers.Add(reader);
            }
        }
    }
}
