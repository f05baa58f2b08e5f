using KataAgent.Linux.Interop;

namespace KataAgent.Linux.Namespaces;

/// <summary>
/// Runs code inside another network namespace given by path (/var/run/netns/NAME as CNI leaves
/// it, or /proc/PID/ns/net). setns(CLONE_NEWNET) moves only the calling thread, so the work runs
/// on a dedicated thread that enters the namespace, does it and goes back; sockets and tun
/// devices it creates stay bound to that namespace afterwards, whoever uses them.
/// </summary>
internal static class NetworkNamespace
{
    /// <summary>Runs <paramref name="action"/> inside the network namespace at <paramref name="path"/> and returns its result.</summary>
    /// <exception cref="LinuxException">The path does not exist (ENOENT) or is not a network namespace (EINVAL).</exception>
    public static T Run<T>(string path, Func<T> action)
    {
        int target = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (target < 0)
        {
            throw LinuxException.FromLastError($"open network namespace {path}");
        }
        try
        {
            T result = default!;
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    result = RunOnThisThread(target, path, action);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            })
            {
                IsBackground = true,
                Name = "netns",
            };
            thread.Start();
            thread.Join();
            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
            return result;
        }
        finally
        {
            Libc.Close(target);
        }
    }

    /// <summary>Runs <paramref name="action"/> inside the network namespace at <paramref name="path"/>.</summary>
    public static void Run(string path, Action action) => Run(path, () =>
    {
        action();
        return true;
    });

    private static T RunOnThisThread<T>(int target, string path, Func<T> action)
    {
        int original = Libc.Open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (original < 0)
        {
            throw LinuxException.FromLastError("open /proc/thread-self/ns/net");
        }
        try
        {
            if (Libc.SetNs(target, Libc.CLONE_NEWNET) != 0)
            {
                var error = LinuxException.FromLastError($"setns(CLONE_NEWNET) {path}");
                throw error.Errno == Errno.EINVAL ? new LinuxException($"setns(CLONE_NEWNET) {path}: not a network namespace", Errno.EINVAL) : error;
            }
            try
            {
                return action();
            }
            finally
            {
                // Going back matters only for tidiness: this thread ends right after.
                _ = Libc.SetNs(original, Libc.CLONE_NEWNET);
            }
        }
        finally
        {
            Libc.Close(original);
        }
    }
}
