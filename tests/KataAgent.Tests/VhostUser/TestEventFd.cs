using KataAgent.Linux.Interop;

namespace KataAgent.Tests.VhostUser;

/// <summary>An eventfd the test keeps its end of (qemu's kick, call or err notifier): the server gets a copy over SCM_RIGHTS.</summary>
internal sealed unsafe class TestEventFd : IDisposable
{
    private readonly SafeFileDescriptor _fd = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");

    public int Fd => (int)_fd.DangerousGetHandle();

    public void Signal() => Libc.EventFdWrite(Fd);

    /// <summary>The counter, reset to 0; 0 when nothing was signalled.</summary>
    public ulong Take() => Libc.EventFdRead(Fd);

    /// <summary>Waits up to <paramref name="timeout"/> for a signal and takes the counter; 0 when none came.</summary>
    public ulong Wait(TimeSpan timeout)
    {
        var poll = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        return Libc.Poll(&poll, 1, (int)timeout.TotalMilliseconds) > 0 ? Take() : 0;
    }

    public void Dispose() => _fd.Dispose();
}
