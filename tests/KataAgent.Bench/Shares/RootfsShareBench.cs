using System.Diagnostics;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Bench.Shares;

/// <summary>
/// Container creation with its rootfs shared over virtio-fs (the default: a bind mount into the sandbox's share)
/// beside the blk mode (the directory packed into ext4 with mkfs.ext4 -d and hot-plugged), in one run, on the same
/// kernel and image: a busybox rootfs and the same with a 200 MiB file in it. Each creation is timed from
/// CreateContainerAsync called to the container's first process exited (create, start, `true`, wait), and the
/// removal apart. Prints a Markdown table and writes it to out/bench/rootfs.md.
/// </summary>
internal static class RootfsShareBench
{
    private const int Runs = 3;
    private const long LargeFileBytes = 200L * 1024 * 1024;

    public static async Task RunAsync(string root)
    {
        string scratch = Directory.CreateTempSubdirectory("ka-rootfs-bench-").FullName;
        var rows = new List<(string Name, string Value, string Note)>();
        try
        {
            string small = await BenchRootfs.CreateAsync(Directory.CreateDirectory(Path.Combine(scratch, "small")).FullName);
            string large = await BenchRootfs.CreateAsync(Directory.CreateDirectory(Path.Combine(scratch, "large")).FullName);
            await WriteRandomFileAsync(Path.Combine(large, "payload.bin"), LargeFileBytes);

            var shared = await MeasureAsync(root, scratch, RootfsMode.VirtioFs, small, large);
            var blk = await MeasureAsync(root, scratch, RootfsMode.Blk, small, large);
            foreach (var (what, index) in new[] { ("busybox rootfs", 0), ("busybox + 200 MiB file", 1) })
            {
                var (sharedCreate, sharedRemove) = shared[index];
                var (blkCreate, blkRemove) = blk[index];
                rows.Add(($"Create to exit, virtio-fs, {what} (p50, min–max)", Span(sharedCreate), $"CreateContainerAsync called → `true` exited; {Runs} containers after 1 warm-up, one sandbox"));
                rows.Add(($"Create to exit, blk, {what} (p50, min–max)", Span(blkCreate), "the same with RootfsMode.Blk: mkfs.ext4 -d, virtio-blk hot-plug, the agent's blk mount"));
                rows.Add(($"Ratio blk / virtio-fs, {what} (create to exit, p50)", $"{Percentiles.Of(blkCreate, 50) / Percentiles.Of(sharedCreate, 50):0.0}×", "both measured in this run"));
                rows.Add(($"Remove, virtio-fs / blk, {what} (p50)", $"{Percentiles.Of(sharedRemove, 50):0} ms / {Percentiles.Of(blkRemove, 50):0} ms", "RemoveAsync: RemoveContainer, then the share's unmount or the disk's unplug and image deletion"));
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
        await BenchReport.WriteAsync(root, "rootfs", $", {(File.Exists("/dev/kvm") ? "KVM" : "TCG")}, out/vmlinuz + out/initrd.img, the agent on vsock", rows);
    }

    private static string Span(List<double> milliseconds) =>
        $"{Percentiles.Of(milliseconds, 50):0} ms ({milliseconds.Min():0}–{milliseconds.Max():0} ms)";

    /// <summary>Per rootfs (small, large): the create-to-exit and remove times in ms of <see cref="Runs"/> containers.</summary>
    private static async Task<List<(List<double> Create, List<double> Remove)>> MeasureAsync(string root, string scratch, RootfsMode mode, params string[] rootfsDirectories)
    {
        await using var sandbox = await Sandbox.StartAsync(new SandboxOptions
        {
            Id = $"bench-{mode}".ToLowerInvariant(),
            RootfsMode = mode,
            Vm = new QemuOptions
            {
                KernelPath = Path.Combine(root, "out", "vmlinuz"),
                InitrdPath = Path.Combine(root, "out", "initrd.img"),
                StateDirectory = Path.Combine(scratch, $"sandbox-{mode}"),
            },
        }, CancellationToken.None);
        var results = new List<(List<double>, List<double>)>();
        for (int r = 0; r < rootfsDirectories.Length; r++)
        {
            var create = new List<double>();
            var remove = new List<double>();
            for (int run = 0; run <= Runs; run++)
            {
                var (created, removed) = await OnceAsync(sandbox, rootfsDirectories[r], $"c{r}-{run}");
                Console.Error.WriteLine($"rootfs bench: {mode} rootfs {r} run {run}{(run == 0 ? " (warm-up)" : "")}: create to exit {created:0} ms, remove {removed:0} ms");
                if (run > 0)
                {
                    create.Add(created);
                    remove.Add(removed);
                }
            }
            results.Add((create, remove));
        }
        await sandbox.DestroyAsync();
        return results;
    }

    private static async Task<(double CreateMs, double RemoveMs)> OnceAsync(Sandbox sandbox, string rootfs, string id)
    {
        long start = Stopwatch.GetTimestamp();
        var container = await sandbox.CreateContainerAsync(id, rootfs, ContainerSpecs.Default(["true"], terminal: false));
        await container.StartAsync();
        int status = await container.InitProcess.WaitAsync();
        double created = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (status != 0)
        {
            throw new InvalidOperationException($"container {id} exited with {status}");
        }
        start = Stopwatch.GetTimestamp();
        await container.RemoveAsync();
        double removed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        await container.DisposeAsync();
        return (created, removed);
    }

    private static async Task WriteRandomFileAsync(string path, long bytes)
    {
        var block = new byte[1 << 20];
        await using var file = File.Create(path);
        for (long written = 0; written < bytes; written += block.Length)
        {
            Random.Shared.NextBytes(block);
            await file.WriteAsync(block);
        }
    }
}
