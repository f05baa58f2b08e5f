using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The daemon is a child subreaper (PR_SET_CHILD_SUBREAPER, as containerd's shims are): whatever our children leave
/// behind when they die (a daemonized passt, a helper's helper) is re-parented to us rather than to PID 1, and its
/// exit is ours to reap. Our own children are not: .NET's <see cref="Process"/> (and CliWrap over it, which the host
/// library uses for qemu and virtiofsd) reaps them itself and reads their statuses, and a <c>wait(-1)</c> here would
/// steal those. So only a zombie that has stayed a zombie for a grace period is reaped: .NET reaps its own on
/// the SIGCHLD that announces them, which its signal thread handles before our handler for the same signal runs.
/// (<see cref="DefaultGrace"/>: 2 s.)
/// </summary>
internal sealed class ChildReaper : IDisposable
{
    /// <summary>How long a zombie child is left for .NET to reap before it counts as adopted.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(2);

    private readonly TimeSpan _grace;

    private readonly Lock _gate = new();
    private readonly Dictionary<int, long> _firstSeen = [];
    private readonly PosixSignalRegistration _registration;
    private readonly Timer _rescan;
    private bool _disposed;

    /// <summary>Reaps zombie children older than <paramref name="grace"/> on SIGCHLD (without making this process a subreaper).</summary>
    internal ChildReaper(TimeSpan grace)
    {
        _grace = grace;
        _rescan = new Timer(_ => Scan(), null, Timeout.Infinite, Timeout.Infinite);
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => Scan());
    }

    /// <summary>Makes this process a child subreaper and starts reaping adopted zombies.</summary>
    public static ChildReaper Start()
    {
        ShimLibc.Check(Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)");
        return new ChildReaper(DefaultGrace);
    }

    /// <summary>Reaps zombie children older than the grace period; rescans later while younger ones remain.</summary>
    public unsafe void Scan()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            long now = Stopwatch.GetTimestamp();
            var zombies = ZombieChildren();
            foreach (int pid in _firstSeen.Keys.Where(p => !zombies.Contains(p)).ToList())
                _firstSeen.Remove(pid);
            foreach (int pid in zombies)
            {
                if (!_firstSeen.TryGetValue(pid, out long seen))
                {
                    _firstSeen[pid] = now;
                    continue;
                }
                if (Stopwatch.GetElapsedTime(seen, now) < _grace)
                    continue;
                int status;
                if (ShimLibc.WaitPid(pid, &status, Libc.WNOHANG) == pid)
                    ShimLog.Debug($"reaped adopted process {pid} (wait status {status})");
                _firstSeen.Remove(pid);
            }
            if (_firstSeen.Count > 0)
                _rescan.Change(_grace, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Our children (of every thread: /proc lists children under the thread that is their parent) that are zombies.</summary>
    private static HashSet<int> ZombieChildren()
    {
        var result = new HashSet<int>();
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories("/proc/self/task");
        }
        catch (IOException)
        {
            return result;
        }
        foreach (string task in tasks)
        {
            string children;
            try
            {
                children = File.ReadAllText(Path.Combine(task, "children"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // the thread ended meanwhile
            }
            foreach (string field in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && IsZombie(pid))
                    result.Add(pid);
            }
        }
        return result;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Stops reaping (the process stays a subreaper until it exits).</summary>
    public void Dispose()
    {
        lock (_gate)
            _disposed = true;
        _registration.Dispose();
        _rescan.Dispose();
    }
}
