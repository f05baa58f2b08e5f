using KataAgent.Testing.Containerd.Cri;

namespace KataAgent.Testing.Containerd;

public sealed partial class PrivateContainerd
{
    /// <summary>
    /// Removes every CRI pod and every ctr task and container, stops containerd, ends the shims started for this
    /// address that outlived it (and so their VMs), unmounts what is left under the directory, removes the CNI bridge
    /// and deletes the directory. Each step runs even when an earlier one failed (a test that broke half-way).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            await TryAsync(async () =>
            {
                using var cri = CreateCriClient();
                await cri.RemoveAllPodsAsync(new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
            });
            foreach (string ns in new[] { Namespace, CriNamespace })
            {
                await TryAsync(() => RemoveTasksAndContainersAsync(ns));
            }
        }
        await TryAsync(StopAsync);
        await TryAsync(KillLeftoverShimsAsync);
        TryUnmountBelow(Directory);
        Cni?.Dispose();
        _directory.Dispose();
    }

    /// <summary>The pids of running shim processes (any runtime) that containerd started for this instance's address.</summary>
    public IReadOnlyList<int> ShimPids() => ShimPidsWhere(_ => true);

    /// <summary>
    /// The pids of running shim processes of this instance that serve group <paramref name="id"/> (a ctr task's id, a
    /// CRI pod's sandbox id) in containerd namespace <paramref name="ns"/>: what a test waits on to see its own shim go,
    /// so that one test's leaked shim fails that test, not the next one (every shim daemon is run with containerd's
    /// <c>-namespace NS -id ID</c>, the flags it was started with).
    /// </summary>
    public IReadOnlyList<int> ShimPids(string ns, string id) =>
        ShimPidsWhere(argv => FlagValue(argv, "-namespace") == ns && FlagValue(argv, "-id") == id);

    /// <summary>A Go flag's value in <paramref name="argv"/> ("-f v" or "-f=v"), or null.</summary>
    private static string? FlagValue(string[] argv, string flag)
    {
        for (int i = 1; i < argv.Length; i++)
        {
            string arg = argv[i].StartsWith("--", StringComparison.Ordinal) ? argv[i][1..] : argv[i];
            if (arg == flag && i + 1 < argv.Length)
            {
                return argv[i + 1];
            }
            if (arg.StartsWith(flag + "=", StringComparison.Ordinal))
            {
                return arg[(flag.Length + 1)..];
            }
        }
        return null;
    }

    private List<int> ShimPidsWhere(Func<string[], bool> matches)
    {
        var pids = new List<int>();
        foreach (string entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid))
            {
                continue;
            }
            string[] argv;
            try
            {
                argv = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (argv.Length > 0 && Path.GetFileName(argv[0]).StartsWith("containerd-shim", StringComparison.Ordinal)
                && argv.Contains(Address) && matches(argv) && ProcessState.IsRunning(pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    private async Task RemoveTasksAndContainersAsync(string ns)
    {
        var tasks = await CtrInAsync(ns, ["tasks", "ls", "-q"], timeout: TimeSpan.FromSeconds(30));
        foreach (string id in tasks.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await CtrInAsync(ns, ["tasks", "delete", "-f", id], timeout: TimeSpan.FromMinutes(1));
        }
        var containers = await CtrInAsync(ns, ["containers", "ls", "-q"], timeout: TimeSpan.FromSeconds(30));
        foreach (string id in containers.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await CtrInAsync(ns, ["containers", "delete", id], timeout: TimeSpan.FromSeconds(30));
        }
    }

    private async Task KillLeftoverShimsAsync()
    {
        foreach (int pid in ShimPids())
        {
            Signal(pid, 9);
            await ProcessState.ExitsWithinAsync(pid, TimeSpan.FromSeconds(10));
        }
    }

    private static void TryUnmountBelow(string directory)
    {
        // Deepest first, so a mount over a mount comes off before the one beneath it.
        var mounts = File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " "))
            .Where(point => point == directory || point.StartsWith(directory + "/", StringComparison.Ordinal))
            .Reverse()
            .ToList();
        foreach (string point in mounts)
        {
            try
            {
                HostTools.Run("umount", "-l", point);
            }
            catch (InvalidOperationException)
            {
                // Already gone with its parent (a lazy unmount takes submounts with it).
            }
        }
    }

    private static async Task TryAsync(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"PrivateContainerd teardown: {e.GetType().Name}: {e.Message}");
        }
    }
}
