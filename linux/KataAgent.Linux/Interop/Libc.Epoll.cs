using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLONESHOT = 1u << 30;

    /// <summary>struct epoll_event: packed on x86-64 (12 bytes), naturally aligned elsewhere (16).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEventX64
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEventAligned
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport(Library, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(Library, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, void* ev);

    [LibraryImport(Library, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, void* events, int maxEvents, int timeoutMilliseconds);

    /// <summary>epoll_ctl(2) with <paramref name="events"/> and <paramref name="data"/> in the layout this architecture uses.</summary>
    public static int EpollControl(int epfd, int op, int fd, uint events, ulong data)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            var ev = new EpollEventX64 { Events = events, Data = data };
            return EpollCtl(epfd, op, fd, &ev);
        }
        var aligned = new EpollEventAligned { Events = events, Data = data };
        return EpollCtl(epfd, op, fd, &aligned);
    }

    /// <summary>
    /// epoll_wait(2) into <paramref name="ready"/> as (events, data) pairs; returns how many are ready, or -1 with
    /// errno set.
    /// </summary>
    public static int EpollWait(int epfd, Span<(uint Events, ulong Data)> ready, int timeoutMilliseconds)
    {
        int count;
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            var events = stackalloc EpollEventX64[ready.Length];
            count = EpollWait(epfd, events, ready.Length, timeoutMilliseconds);
            for (int i = 0; i < count; i++)
            {
                ready[i] = (events[i].Events, events[i].Data);
            }
            return count;
        }
        var alignedEvents = stackalloc EpollEventAligned[ready.Length];
        count = EpollWait(epfd, alignedEvents, ready.Length, timeoutMilliseconds);
        for (int i = 0; i < count; i++)
        {
            ready[i] = (alignedEvents[i].Events, alignedEvents[i].Data);
        }
        return count;
    }
}
