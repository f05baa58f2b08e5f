using System.Net.Sockets;
using KataAgent.Shim.Interop;

namespace KataAgent.Shim.Cli;

/// <summary>
/// Starts the shim daemon from <c>start</c> as runc's and Kata's shims do: this binary again without an action
/// word, the listening socket as fd 3, stdin, stdout and stderr on <c>/dev/null</c> (containerd reads
/// <c>start</c>'s output with <c>CombinedOutput</c>, which waits until every copy of its pipe is closed: a daemon
/// holding one would hang containerd), every other fd closed, in a session of its own, in the bundle directory
/// (<see cref="ShimSpawn"/>).
/// </summary>
internal static class DaemonLauncher
{
    /// <summary>The fd the daemon finds its listener on (Go's <c>ExtraFiles[0]</c>).</summary>
    public const int ListenerFd = 3;

    /// <summary>The fd the daemon tells <c>start</c> it is ready on (when <see cref="ReadyFdVariable"/> names it).</summary>
    public const int ReadyFd = 4;

    /// <summary>The environment variable that tells the daemon <see cref="ReadyFd"/> is <c>start</c>'s pipe.</summary>
    public const string ReadyFdVariable = "KATAAGENT_SHIM_READY_FD";

    /// <summary>Spawns <paramref name="program"/> with <paramref name="argv"/>; returns its pid.</summary>
    /// <param name="program">The binary.</param>
    /// <param name="argv">Its arguments, argv[0] first.</param>
    /// <param name="environment">Its environment, <c>KEY=value</c>.</param>
    /// <param name="listener">The listening socket, the child's fd 3.</param>
    /// <param name="workingDirectory">The child's working directory.</param>
    /// <param name="ready">The write end of a pipe, the child's fd 4; -1 for none.</param>
    public static int Spawn(string program, IReadOnlyList<string> argv, IReadOnlyList<string> environment, SafeSocketHandle listener,
        string workingDirectory, int ready = -1)
    {
        bool referenced = false;
        try
        {
            listener.DangerousAddRef(ref referenced);
            var inherited = new List<(int, int)> { ((int)listener.DangerousGetHandle(), ListenerFd) };
            if (ready >= 0)
                inherited.Add((ready, ReadyFd));
            return ShimSpawn.Spawn(program, argv, environment, inherited, workingDirectory, newSession: true);
        }
        finally
        {
            if (referenced)
                listener.DangerousRelease();
        }
    }
}
