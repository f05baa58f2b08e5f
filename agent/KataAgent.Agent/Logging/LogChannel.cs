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
/// preceded by a note of how many were lost.
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
    private readonly List<int> _readers = [];
    private readonly Thread _writer;
    private readonly Thread? _acceptor;
    private int _portFd = -1;
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
            _readers.ForEach(fd => Libc.Close(fd));
            _readers.Clear();
        }
        if (_portFd >= 0)
        {
            Libc.Close(_portFd);
            _portFd = -1;
        }
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
        int port = Port();
        if (port >= 0 && !WriteLine(port, bytes))
        {
            // The port went away (a hang-up reads as EIO): reopen it later.
            Libc.Close(_portFd);
            _portFd = -1;
        }
        lock (_readers)
        {
            for (int i = _readers.Count - 1; i >= 0; i--)
            {
                if (!WriteLine(_readers[i], bytes))
                {
                    Libc.Close(_readers[i]);
                    _readers.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>The port's fd, opened on first use and again after it failed (not more often than every few seconds).</summary>
    private int Port()
    {
        if (_portFd >= 0 || _portAddress is null || DateTime.UtcNow < _nextPortAttempt)
        {
            return _portFd;
        }
        _nextPortAttempt = DateTime.UtcNow + PortRetryInterval;
        _portFd = SerialPortDevice.TryOpen(_portAddress, requireHost: false, out _);
        return _portFd;
    }

    /// <summary>
    /// Writes a whole line without blocking for long: a reader with no room drops the line (counted);
    /// a line begun is finished if the reader makes room soon. False when the fd failed.
    /// </summary>
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
            int flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
            Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK);
            lock (_readers)
            {
                _readers.Add(fd);
            }
        }
    }
}
