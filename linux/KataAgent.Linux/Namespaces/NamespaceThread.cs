namespace KataAgent.Linux.Namespaces;

/// <summary>
/// Runs a function on a fresh thread that first moves itself into other namespaces, for work whose result depends on
/// the calling thread's namespaces: a process spawned there starts in them (a PID namespace only ever takes effect for
/// children). setns(2) and unshare(2) move only the calling thread, and this thread ends with the function, so no
/// other thread, and no later work, runs in those namespaces. What the kernel refuses a thread of a multi-threaded
/// process (CLONE_NEWUSER; setns(CLONE_NEWNS) without unshare(CLONE_FS) first) fails here as it would anywhere.
/// </summary>
internal static class NamespaceThread
{
    /// <summary>Runs <paramref name="enter"/>, then <paramref name="action"/>, on a new thread; its result or exception.</summary>
    public static Task<T> RunAsync<T>(string name, Action enter, Func<T> action)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                enter();
                result.SetResult(action());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        // No ExecutionContext flows to it: nothing of the caller's (a logging scope, an AsyncLocal) runs in there.
        thread.UnsafeStart();
        return result.Task;
    }
}
