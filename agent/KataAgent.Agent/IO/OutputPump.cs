using System.Collections.Concurrent;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.IO;

/// <summary>
/// One thread that moves every process's output from its pipe (or terminal) into its <see cref="OutputBuffer"/>: it
/// waits in epoll for the fds that have data and reads straight into the buffers' segments. Before it, each output had
/// a task that hopped to the thread pool for every 32 KiB read and copied each read twice; at a GiB/s that was most of
/// the agent's CPU per MiB (docs/BENCHMARKS.md, issue 16).
/// </summary>
/// <remarks>
/// Each fd is armed one-shot and re-armed after it is drained, so one busy output is never read by two threads and a
/// full buffer simply leaves its fd disarmed (the process blocks on its pipe) until a reader makes room. A bounded
/// number of reads per wake-up keeps one fast producer from starving the others.
/// </remarks>
internal sealed class OutputPump : IDisposable
{
    private const int ReadsPerWakeUp = 16;
    private const int MaxEvents = 64;
    /// <summary>The epoll data of the wake-up eventfd; registrations count from 1.</summary>
    private const ulong WakeId = 0;
    private static readonly Lazy<OutputPump> s_shared = new(() => new OutputPump());
    private readonly SafeFileDescriptor _epoll;
    private readonly SafeFileDescriptor _wake;
    private readonly ConcurrentDictionary<ulong, Registration> _registrations = new();
    private readonly Thread _thread;
    private long _nextId;
    private int _disposed;
    /// <summary>Why the pump's thread stopped on its own, if it did.</summary>
    private volatile LinuxException? _failure;

    public OutputPump()
    {
        _epoll = SafeFileDescriptor.Check(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        Libc.Check(Libc.EpollControl(Fd, Libc.EPOLL_CTL_ADD, (int)_wake.DangerousGetHandle(), Libc.EPOLLIN, WakeId), "epoll_ctl(EPOLL_CTL_ADD) of the wake-up eventfd");
        _thread = new Thread(Run) { IsBackground = true, Name = "output pump" };
        _thread.Start();
    }

    /// <summary>The agent's pump: one thread for every output.</summary>
    public static OutputPump Shared => s_shared.Value;

    /// <summary>How many outputs are being read now.</summary>
    public int Count => _registrations.Count;

    /// <summary>
    /// Starts reading <paramref name="fd"/> into <paramref name="target"/> until end of file (or EIO, how a terminal
    /// reports that its other side closed), then completes <paramref name="target"/> and closes the fd. The pump owns
    /// <paramref name="fd"/> from here on, also when it refuses it (a caller that keeps using the file passes a dup).
    /// It is switched to non-blocking, which is shared with every dup of it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pump was disposed, or its thread failed; the fd is closed.</exception>
    public Registration Start(SafeFileDescriptor fd, OutputBuffer target)
    {
        Registration registration;
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw _failure is { } failure
                    ? new ObjectDisposedException(nameof(OutputPump), $"the output pump stopped: {failure.Message}")
                    : new ObjectDisposedException(nameof(OutputPump));
            }
            int number = (int)fd.DangerousGetHandle();
            int flags = Libc.Check(Libc.Fcntl(number, Libc.F_GETFL, 0), "fcntl(F_GETFL)");
            Libc.Check(Libc.Fcntl(number, Libc.F_SETFL, flags | Libc.O_NONBLOCK), "fcntl(F_SETFL, O_NONBLOCK)");
            ulong id = (ulong)Interlocked.Increment(ref _nextId);
            registration = new Registration(this, id, fd, target);
            _registrations[id] = registration;
            if (Libc.EpollControl(Fd, Libc.EPOLL_CTL_ADD, number, Libc.EPOLLIN | Libc.EPOLLONESHOT, id) != 0)
            {
                var error = LinuxException.FromLastError("epoll_ctl(EPOLL_CTL_ADD)");
                _registrations.TryRemove(id, out _);
                throw error;
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
        // A dispose (or the thread's failure) between the check above and the add did not see this output: end it here.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _disposed) != 0)
        {
            registration.Stop();
        }
        return registration;
    }

    /// <summary>A close-on-exec duplicate of <paramref name="fd"/>, for <see cref="Start"/> when the caller keeps its own.</summary>
    public static SafeFileDescriptor Duplicate(int fd) =>
        SafeFileDescriptor.Check(Libc.Fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var registration in _registrations.Values)
            {
                registration.Stop();
            }
            // The thread leaves its loop on the wake-up and closes the fds itself, so none is closed under its wait.
            Libc.EventFdWrite((int)_wake.DangerousGetHandle());
        }
    }

    /// <summary>The epoll fd's number (the tests replace it to stand for a double close elsewhere).</summary>
    internal int Fd => (int)_epoll.DangerousGetHandle();

    private void Run()
    {
        try
        {
            Poll();
        }
        finally
        {
            _wake.Dispose();
            _epoll.Dispose();
        }
    }

    private void Poll()
    {
        Span<(uint Events, ulong Data)> ready = stackalloc (uint, ulong)[MaxEvents];
        while (true)
        {
            int count = Libc.EpollWait(Fd, ready, -1);
            if (count < 0)
            {
                var error = LinuxException.FromLastError("epoll_wait");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                // EBADF/EINVAL: someone closed our epoll fd's number (a double close elsewhere). No output can be
                // read any more, so every one ends, and its reader sees end of stream rather than waiting for ever.
                Fail(error);
                return;
            }
            for (int i = 0; i < count; i++)
            {
                if (ready[i].Data == WakeId)
                {
                    return;
                }
                if (_registrations.TryGetValue(ready[i].Data, out var registration))
                {
                    registration.Drain();
                }
            }
        }
    }

    private void Fail(LinuxException error)
    {
        _failure = error;
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var registration in _registrations.Values)
            {
                registration.Stop();
            }
        }
    }

    /// <summary>One output being read: stop it, or wait for its end.</summary>
    public sealed class Registration
    {
        private readonly OutputPump _pump;
        private readonly ulong _id;
        private readonly OutputBuffer _target;
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _ended;

        internal Registration(OutputPump pump, ulong id, SafeFileDescriptor handle, OutputBuffer target)
        {
            _pump = pump;
            _id = id;
            Handle = handle;
            _target = target;
        }

        /// <summary>Completes once the output has ended (or was stopped) and the buffer was completed.</summary>
        public Task Completion => _completion.Task;

        internal SafeFileDescriptor Handle { get; }

        /// <summary>Stops reading now: what was read stays readable, the buffer is completed and the fd closed.</summary>
        public void Stop() => End();

        /// <summary>On the pump's thread: reads what the fd has, then re-arms it, or leaves it to the buffer to re-arm once it has room.</summary>
        internal void Drain()
        {
            bool referenced = false;
            try
            {
                Handle.DangerousAddRef(ref referenced);
                int fd = (int)Handle.DangerousGetHandle();
                for (int reads = 0; reads < ReadsPerWakeUp; reads++)
                {
                    if (Volatile.Read(ref _ended) != 0)
                    {
                        return;
                    }
                    Memory<byte> target = _target.GetWriteMemory();
                    if (target.IsEmpty)
                    {
                        // Full: stay disarmed until a reader takes something.
                        _target.WhenSpaceAsync().ContinueWith(static (_, state) => ((Registration)state!).Rearm(), this,
                            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        return;
                    }
                    int n = Libc.ReadRetryingInterrupts(fd, target.Span);
                    if (n > 0)
                    {
                        _target.Advance(n);
                        if (n < target.Length)
                        {
                            // A short read emptied the pipe: waiting in epoll saves the read that would say EAGAIN.
                            break;
                        }
                        continue;
                    }
                    if (n == 0)
                    {
                        End();
                        return;
                    }
                    if (n == -Errno.EAGAIN)
                    {
                        break;
                    }
                    // EIO: a terminal whose other side closed; any other error ends the output too.
                    End();
                    return;
                }
                Arm(fd);
            }
            catch (ObjectDisposedException)
            {
                // Stopped and closed meanwhile.
            }
            finally
            {
                if (referenced)
                {
                    Handle.DangerousRelease();
                }
            }
        }

        private void Rearm()
        {
            bool referenced = false;
            try
            {
                Handle.DangerousAddRef(ref referenced);
                Arm((int)Handle.DangerousGetHandle());
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                if (referenced)
                {
                    Handle.DangerousRelease();
                }
            }
        }

        /// <summary>Re-arms the fd (while a reference keeps its number from being reused); a stopped output stays unarmed.</summary>
        private void Arm(int fd)
        {
            if (Volatile.Read(ref _ended) == 0)
            {
                // Fails with ENOENT once a concurrent stop removed the fd: nothing to do then.
                Libc.EpollControl(_pump.Fd, Libc.EPOLL_CTL_MOD, fd, Libc.EPOLLIN | Libc.EPOLLONESHOT, _id);
            }
        }

        private void End()
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                return;
            }
            bool referenced = false;
            try
            {
                Handle.DangerousAddRef(ref referenced);
                Libc.EpollControl(_pump.Fd, Libc.EPOLL_CTL_DEL, (int)Handle.DangerousGetHandle(), 0, 0);
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                if (referenced)
                {
                    Handle.DangerousRelease();
                }
            }
            _pump._registrations.TryRemove(_id, out _);
            // Closes the fd once the pump's thread (if it is reading it now) has let go of it, so its number cannot be
            // reused under that read.
            Handle.Dispose();
            _target.Complete();
            _completion.TrySetResult();
        }
    }
}
