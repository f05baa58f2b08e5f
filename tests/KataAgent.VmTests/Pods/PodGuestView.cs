using System.Globalization;
using FluentAssertions;
using KataAgent.Host.Containers;
using KataAgent.Host.Pods;
using KataAgent.Protocols.Agent;
using KataAgent.VmTests.Infrastructure;

namespace KataAgent.VmTests.Pods;

/// <summary>What a pod's container sees, through an exec: its output, nproc, MemTotal, its cgroup's limits; and the host-side leftovers of a pod.</summary>
internal static class PodGuestView
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>Runs <c>sh -c <paramref name="script"/></c> in <paramref name="container"/> and returns its stdout; the exit status must be 0.</summary>
    public static async Task<string> ExecAsync(Container container, string script)
    {
        var process = await container.ExecAsync(new Process
        {
            Args = { "/bin/sh", "-c", script },
            Env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
            Cwd = "/",
            User = new User(),
        });
        await using (process)
        {
            var stdout = StreamText.ReadAllAsync(process.Stdout);
            var stderr = StreamText.ReadAllAsync(process.Stderr);
            int status = await process.WaitAsync().WaitAsync(Limit);
            string text = await stdout.WaitAsync(Limit);
            status.Should().Be(0, $"`{script}` in {container.Id} should succeed (stderr: {await stderr.WaitAsync(Limit)})");
            return text;
        }
    }

    /// <summary>nproc and MemTotal (bytes) as <paramref name="container"/> sees them.</summary>
    public static async Task<(int Cpus, long MemTotal)> SizeAsync(Container container)
    {
        string[] lines = (await ExecAsync(container, "nproc; grep ^MemTotal: /proc/meminfo")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        long kib = long.Parse(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return (int.Parse(lines[0], CultureInfo.InvariantCulture), kib * 1024);
    }

    /// <summary>The container's cpu.max and memory.max, from its own cgroup (its cgroup namespace's root).</summary>
    public static async Task<(string CpuMax, string MemoryMax)> LimitsAsync(Container container)
    {
        string[] lines = (await ExecAsync(container, "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (lines[0], lines[1]);
    }

    /// <summary>Polls until <paramref name="container"/>'s MemTotal satisfies <paramref name="done"/> (memory blocks come online a moment after qemu plugs them), for up to 60 s; returns the last value.</summary>
    public static async Task<(int Cpus, long MemTotal)> WaitForSizeAsync(Container container, Func<(int Cpus, long MemTotal), bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var size = await SizeAsync(container);
        while (!done(size) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            size = await SizeAsync(container);
        }
        return size;
    }

    /// <summary>Processes whose command line mentions <paramref name="path"/> (a pod's qemu, virtiofsd, vsock backend).</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string path)
    {
        var found = new List<int>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(path, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        return found;
    }

    /// <summary>Mount points at or below <paramref name="path"/> (the host's /proc/self/mountinfo).</summary>
    public static IReadOnlyList<string> MountsBelow(string path) =>
        [.. File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m == path || m.StartsWith(path + "/", StringComparison.Ordinal))];

    /// <summary>A container of busybox that sleeps, with <paramref name="resources"/>.</summary>
    public static PodContainerSpec Sleeper(string name, string rootfs, PodResources? resources = null, IReadOnlyList<PodVolumeMount>? mounts = null) => new()
    {
        Name = name,
        Rootfs = rootfs,
        Command = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
        Resources = resources ?? new PodResources(),
        VolumeMounts = mounts ?? [],
    };
}
