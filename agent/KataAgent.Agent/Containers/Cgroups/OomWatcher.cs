using System.Runtime.InteropServices;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Reports OOM kills in one cgroup: watches its memory.events with inotify (the kernel signals
/// IN_MODIFY on every change) and calls back with the container id whenever the "oom_kill"
/// count rises above what it was when watching began. One thread blocks in poll(2) on the
/// inotify descriptor and an eventfd; <see cref="Dispose"/> signals the eventfd, joins the
/// thread and closes both descriptors. The thread holds a reference on both handles while it
/// runs, so a dispose from its own callback closes them only once it has left poll.
/// </summary>
public sealed unsafe class OomWatcher : IDisposable
{
    private readonly string eventsFile;
    private readonly Action<string> onOomKill;
    private readonly SafeFileDescriptor inotify;
    private readonly SafeFileDescriptor wake;
    private readonly Thread thread;
    private ulong lastOomKills;
    private int disposed;

    /// <param name="memoryEventsPath">The cgroup's memory.events file.</param>
    /// <param name="containerId">Passed to <paramref name="onOomKill"/>.</param>
    /// <param name="onOomKill">Called on the watcher's thread once per observed rise of oom_kill; exceptions are swallowed.</param>
    public OomWatcher(string memoryEventsPath, string containerId, Action<string> onOomKill)
    {
        ArgumentException.ThrowIfNullOrEmpty(memoryEventsPath);
        ArgumentNullException.ThrowIfNull(onOomKill);
        eventsFile = memoryEventsPath;
        ContainerId = containerId;
        this.onOomKill = onOomKill;

        int inotifyFd = AgentLibc.InotifyInit1(AgentLibc.IN_NONBLOCK | AgentLibc.IN_CLOEXEC);
        if (inotifyFd < 0)
        {
            throw new CgroupException($"inotify_init1 for {memoryEventsPath} failed: {LinuxException.FromLastError("inotify_init1").Message}", memoryEventsPath, "memory", Marshal.GetLastPInvokeError());
        }
        inotify = new SafeFileDescriptor(inotifyFd);
        try
        {
            if (AgentLibc.InotifyAddWatch(inotifyFd, memoryEventsPath, AgentLibc.IN_MODIFY) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string message = errno == Errno.ENOENT
                    ? $"{memoryEventsPath} does not exist: the cgroup v2 'memory' controller is not available for this cgroup"
                    : $"watching {memoryEventsPath} failed: {new LinuxException("inotify_add_watch", errno).Message}";
                throw new CgroupException(message, memoryEventsPath, "memory", errno);
            }
            wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        }
        catch
        {
            inotify.Dispose();
            throw;
        }

        // The watch is in place before the baseline is read, so no change can fall between them.
        lastOomKills = ReadOomKills() ?? 0;
        thread = new Thread(Run) { IsBackground = true, Name = $"oom-watch {containerId}" };
        thread.Start();
    }

    public string ContainerId { get; }

    /// <summary>The oom_kill count last seen.</summary>
    public ulong OomKills => Interlocked.Read(ref lastOomKills);

    /// <summary>True while the watching thread runs (it stops on Dispose or when the file goes away).</summary>
    internal bool IsRunning => thread.IsAlive;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        if (Thread.CurrentThread != thread)
        {
            // Only this call disposes the handles, and it has not yet: the number is still ours to write to.
            ulong one = 1;
            Libc.Write((int)wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
            thread.Join();
        }
        // Disposed from the callback, the thread still holds its references: the fds close when it leaves.
        inotify.Dispose();
        wake.Dispose();
    }

    private void Run()
    {
        byte* buffer = stackalloc byte[4096];
        var fds = stackalloc Libc.PollFd[2];
        bool inotifyReferenced = false;
        bool wakeReferenced = false;
        try
        {
            try
            {
                inotify.DangerousAddRef(ref inotifyReferenced);
                wake.DangerousAddRef(ref wakeReferenced);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            int inotifyFd = (int)inotify.DangerousGetHandle();
            int wakeFd = (int)wake.DangerousGetHandle();
            while (Volatile.Read(ref disposed) == 0)
            {
                fds[0] = new Libc.PollFd { Fd = inotifyFd, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = wakeFd, Events = Libc.POLLIN };
                int ready = Libc.Poll(fds, 2, -1);
                if (ready < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }
                    return;
                }
                if (fds[1].Revents != 0 || Volatile.Read(ref disposed) != 0)
                {
                    return;
                }
                if (fds[0].Revents == 0)
                {
                    continue;
                }
                bool watchGone = false;
                while (true)
                {
                    nint read = Libc.Read(inotifyFd, buffer, 4096);
                    if (read <= 0)
                    {
                        break;
                    }
                    // struct inotify_event { int wd; uint32 mask; uint32 cookie; uint32 len; char name[len]; }
                    for (nint offset = 0; offset + 16 <= read; offset += 16 + (nint)(*(uint*)(buffer + offset + 12)))
                    {
                        uint mask = *(uint*)(buffer + offset + 4);
                        if ((mask & AgentLibc.IN_IGNORED) != 0)
                        {
                            watchGone = true;
                        }
                    }
                }
                Check();
                if (watchGone)
                {
                    // memory.events was removed (the cgroup is gone): nothing more will come.
                    return;
                }
            }
        }
        finally
        {
            if (wakeReferenced)
            {
                wake.DangerousRelease();
            }
            if (inotifyReferenced)
            {
                inotify.DangerousRelease();
            }
        }
    }

    private void Check()
    {
        ulong? count = ReadOomKills();
        if (count is not { } current || current <= lastOomKills)
        {
            // A partial read (the file truncated mid-rewrite) or no change: keep the highest seen.
            return;
        }
        Interlocked.Exchange(ref lastOomKills, current);
        if (Volatile.Read(ref disposed) != 0)
        {
            return;
        }
        try
        {
            onOomKill(ContainerId);
        }
        catch
        {
            // A failing subscriber must not stop the watch.
        }
    }

    private ulong? ReadOomKills()
    {
        string? text = CgroupFile.TryRead(Path.GetDirectoryName(eventsFile) ?? "/", Path.GetFileName(eventsFile));
        return text is not null && CgroupFile.ParseFlatKeyed(text).TryGetValue("oom_kill", out ulong value) ? value : null;
    }
}
