using System.Collections;
using System.Globalization;
using System.Net.Sockets;
using KataAgent.Protocols.Containerd.RuntimeOptions;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The <c>start</c> action (containerd runtime v2, reference §2.2–§2.3): gives containerd the address of the shim
/// that will serve this task, with that socket already listening, and nothing else on stdout or stderr.
/// </summary>
/// <remarks>
/// A pod's container (by its annotations, <see cref="ShimGroup"/>) joins the shim of its sandbox, which must be
/// live. Any other task gets a shim of its own: the socket is bound here (a stale one, whose shim is gone, is
/// replaced; a live one, a shim already serving this id, is reused as runc does), the <c>address</c> and
/// <c>shim.pid</c> files are written into the bundle, and the daemon is spawned with the socket as fd 3. The runtime
/// options on stdin reach the daemon as <c>KATAAGENT_SHIM_CONFIG</c> when they name a configuration file, so the
/// daemon knows its configuration before containerd's Create brings the same options again.
/// </remarks>
internal static class StartCommand
{
    /// <summary>The environment variable the shim's configuration path travels in (also the user's override).</summary>
    public const string ConfigEnvironmentVariable = "KATAAGENT_SHIM_CONFIG";

    /// <summary>How long the daemon may take to be ready (its signal handlers in place, its server built).</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Starts or finds the shim; returns its address (with <c>unix://</c>).</summary>
    /// <param name="arguments">The parsed command line.</param>
    /// <param name="options">The runtime options from stdin, if any.</param>
    /// <param name="program">This binary, spawned again as the daemon.</param>
    /// <exception cref="ShimUsageException">The task cannot be given a shim; the message says why.</exception>
    public static string Run(ShimArguments arguments, Options? options, string program)
    {
        string group = ShimGroup.Resolve(arguments.Bundle, arguments.Id);
        string address = ShimSocketAddress.For(arguments.ContainerdAddress, arguments.Namespace, group);
        if (group != arguments.Id)
        {
            // A pod's container: its sandbox's shim serves it, or nothing can (the sandbox's VM lives there).
            if (!ShimSocket.CanConnect(address))
                throw new ShimUsageException($"the shim of sandbox {group} is not running: nothing accepts connections on {address}");
            WriteAddressFile(arguments.Bundle, address);
            return address;
        }

        SafeSocketHandle listener;
        try
        {
            listener = ShimSocket.Listen(address);
        }
        catch (ShimInteropException e) when (e.Errno == ShimLibc.EADDRINUSE)
        {
            if (ShimSocket.CanConnect(address))
            {
                WriteAddressFile(arguments.Bundle, address);
                return address;
            }
            ShimSocket.Remove(address);
            listener = ShimSocket.Listen(address);
        }

        int pid = -1;
        using (listener)
        {
            try
            {
                WriteAddressFile(arguments.Bundle, address);
                var (readyRead, readyWrite) = Pipe();
                try
                {
                    try
                    {
                        pid = DaemonLauncher.Spawn(program, DaemonArguments(arguments, program), DaemonEnvironment(options), listener,
                            arguments.Bundle, readyWrite);
                    }
                    finally
                    {
                        Libc.Close(readyWrite);
                    }
                    WriteAtomically(Path.Combine(arguments.Bundle, "shim.pid"), pid.ToString(CultureInfo.InvariantCulture));
                    AdjustOomScore(pid);
                    WaitUntilReady(readyRead, arguments.Bundle);
                }
                finally
                {
                    Libc.Close(readyRead);
                }
            }
            catch
            {
                if (pid > 0)
                    _ = Libc.Kill(pid, 9);
                ShimSocket.Remove(address);
                throw;
            }
        }
        return address;
    }

    /// <summary>The daemon's command line: the flags <c>start</c> was given, no action word (runc's and Kata's form).</summary>
    public static IReadOnlyList<string> DaemonArguments(ShimArguments arguments, string program)
    {
        var argv = new List<string>
        {
            program,
            "-namespace", arguments.Namespace,
            "-id", arguments.Id,
            "-address", arguments.ContainerdAddress,
            "-publish-binary", arguments.PublishBinary,
        };
        if (arguments.Debug)
            argv.Add("-debug");
        return argv;
    }

    /// <summary>This process's environment, plus the configuration path the runtime options name.</summary>
    public static IReadOnlyList<string> DaemonEnvironment(Options? options)
    {
        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        if (options is { ConfigPath.Length: > 0 })
            environment[ConfigEnvironmentVariable] = options.ConfigPath;
        environment[DaemonLauncher.ReadyFdVariable] = DaemonLauncher.ReadyFd.ToString(CultureInfo.InvariantCulture);
        return environment.Select(kv => kv.Key + "=" + kv.Value).ToList();
    }

    /// <summary>
    /// The bundle's <c>address</c> file, which containerd reads back when it restarts (<c>loadShim</c>); written
    /// through a temporary file and a rename, as containerd's <c>WriteAddress</c>, so a reader never sees half.
    /// </summary>
    public static void WriteAddressFile(string bundle, string address) => WriteAtomically(Path.Combine(bundle, "address"), address);

    private static void WriteAtomically(string path, string content)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    private static unsafe (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        ShimLibc.Check(Libc.Pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        return (fds[0], fds[1]);
    }

    /// <summary>
    /// Waits for the daemon's "ready" on the pipe: its SIGTERM handling is in place (a SIGTERM from now on removes
    /// the socket) and it is about to accept. End of file first means it died starting, which containerd would
    /// otherwise learn only as a broken connection on its first call.
    /// </summary>
    private static unsafe void WaitUntilReady(int readyRead, string bundle)
    {
        var poll = new Libc.PollFd { Fd = readyRead, Events = Libc.POLLIN };
        int polled;
        do
        {
            polled = Libc.Poll(&poll, 1, (int)ReadyTimeout.TotalMilliseconds);
        }
        while (polled < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == ShimLibc.EINTR);
        ShimLibc.Check(polled, "poll on the daemon's ready pipe");
        if (polled == 0)
            throw new ShimUsageException($"the shim daemon was not ready within {ReadyTimeout.TotalSeconds:0} s");
        byte answer;
        nint read = ShimLibc.Check((int)Libc.Read(readyRead, &answer, 1), "read of the daemon's ready pipe");
        if (read != 1)
            throw new ShimUsageException($"the shim daemon exited while starting; its log is {Path.Combine(bundle, "log")} (containerd's log)");
    }

    /// <summary>
    /// The daemon one point more likely than containerd to be chosen by the OOM killer, as runc's shim does
    /// (<c>AdjustOOMScore</c>): under memory pressure a shim goes before the containerd that serves every pod.
    /// </summary>
    private static void AdjustOomScore(int pid)
    {
        int own = int.Parse(File.ReadAllText("/proc/self/oom_score_adj").Trim(), CultureInfo.InvariantCulture);
        int score = Math.Min(own + 1, 1000);
        File.WriteAllText($"/proc/{pid}/oom_score_adj", score.ToString(CultureInfo.InvariantCulture));
    }
}
