using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Linux.Namespaces;
using KataAgent.Testing.Network;

namespace KataAgent.Bench.Checkpoints;

/// <summary>
/// Issue 17's numbers: a 512 MiB pod (blk rootfs, serial agent channel, tcfilter into a CNI-like pod netns) whose
/// container serves a page with busybox httpd. Per run, in the same run so they see the same machine: a cold boot to
/// the page answering at the pod IP (StartAsync, CreateContainer, StartContainer, the first GET from the node netns);
/// the checkpoint (CheckpointAsync, the pod stopped); the restore into the same netns to the page answering again;
/// and the checkpoint's size. Prints a Markdown table and writes it to out/bench/checkpoint.md.
/// </summary>
internal static class CheckpointBench
{
    /// <summary>Runs that count, after one warm-up.</summary>
    private const int Runs = 3;

    private const int MemoryMiB = 512;

    private const string Page = "hello from the checkpointed pod\n";

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(300);

    public static async Task RunAsync(string root)
    {
        string scratch = Directory.CreateTempSubdirectory("ka-cp-bench-").FullName;
        var cold = new List<double>();
        var checkpoint = new List<double>();
        var downtime = new List<double>();
        var restore = new List<double>();
        var sizes = new List<double>();
        var memory = new List<double>();
        using var pod = new CniLikePodNetwork();
        try
        {
            string rootfs = await BenchRootfs.CreateAsync(scratch);
            Directory.CreateDirectory(Path.Combine(rootfs, "www"));
            File.WriteAllText(Path.Combine(rootfs, "www", "index.html"), Page);
            for (int i = 0; i <= Runs; i++)
            {
                string directory = Path.Combine(scratch, $"checkpoint-{i}");
                var clock = Stopwatch.StartNew();
                SandboxCheckpoint saved;
                await using (var sandbox = await Sandbox.StartAsync(new SandboxOptions
                {
                    Id = $"cp-bench-{i}",
                    RootfsMode = RootfsMode.Blk,
                    NetworkModel = NetworkModel.TcFilter,
                    Vm = new QemuOptions
                    {
                        KernelPath = Path.Combine(root, "out", "vmlinuz"),
                        InitrdPath = Path.Combine(root, "out", "initrd.img"),
                        StateDirectory = Path.Combine(scratch, $"cold-{i}"),
                        MemoryMiB = MemoryMiB,
                        AgentChannel = QemuAgentChannel.Serial,
                        NetworkNamespacePath = pod.PodPath,
                    },
                }))
                {
                    var spec = ContainerSpecs.Default(["httpd", "-f", "-p", "80", "-h", "/www"], terminal: false);
                    var container = await sandbox.CreateContainerAsync("web", rootfs, spec);
                    await container.StartAsync();
                    await WaitForPageAsync(pod.NodePath);
                    double coldMs = clock.Elapsed.TotalMilliseconds;

                    clock.Restart();
                    saved = await sandbox.CheckpointAsync(directory, new SandboxCheckpointOptions { LeaveRunning = false });
                    double checkpointMs = clock.Elapsed.TotalMilliseconds;
                    Console.Error.WriteLine($"checkpoint bench: run {i}{(i == 0 ? " (warm-up)" : "")}: cold boot to the page {coldMs:0} ms, checkpoint {checkpointMs:0} ms (paused {saved.Downtime.TotalMilliseconds:0} ms), {saved.SizeBytes} bytes");
                    if (i > 0)
                    {
                        cold.Add(coldMs);
                        checkpoint.Add(checkpointMs);
                        downtime.Add(saved.Downtime.TotalMilliseconds);
                        sizes.Add(saved.SizeBytes);
                        memory.Add(saved.MemoryBytes);
                    }
                }

                clock.Restart();
                await using (var restored = await Sandbox.RestoreAsync(directory, new SandboxRestoreOptions
                {
                    StateDirectory = Path.Combine(scratch, $"restored-{i}"),
                    NetworkNamespacePath = pod.PodPath,
                }))
                {
                    await WaitForPageAsync(pod.NodePath);
                    double restoreMs = clock.Elapsed.TotalMilliseconds;
                    Console.Error.WriteLine($"checkpoint bench: run {i}: restore to the page {restoreMs:0} ms");
                    if (i > 0)
                    {
                        restore.Add(restoreMs);
                    }
                    await restored.DestroyAsync();
                }
                Directory.Delete(directory, recursive: true);
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        double coldP50 = Percentiles.Of(cold, 50);
        string machine = $"qemu TCG, q35, 1 vCPU, {MemoryMiB} MiB, blk rootfs, serial agent channel, tcfilter in a CNI-like pod netns; {Runs} runs after 1 warm-up";
        var rows = new List<(string, string, string)>
        {
            ("Cold boot to the page answering (p50, min–max)", Spread(cold),
                $"Sandbox.StartAsync → CreateContainer (rootfs packed onto a blk disk) → StartContainer → first HTTP 200 at the pod IP from the node netns (polled every 20 ms); {machine}"),
            ("Checkpoint, pod stopped (p50, min–max)", $"{Spread(checkpoint)} ({Ratio(checkpoint, coldP50)} of a cold boot)",
                "Sandbox.CheckpointAsync(LeaveRunning = false): pause, memory and device state (zstd), disks, records, manifest with checksums, then the pod torn down"),
            ("— of which the VM was paused (p50)", Seconds(Percentiles.Of(downtime, 50)), "SandboxCheckpoint.Downtime"),
            ("Restore to the page answering (p50, min–max)", $"{Spread(restore)} ({Ratio(restore, coldP50)} of a cold boot)",
                "Sandbox.RestoreAsync into the same netns (checksums checked, disks copied, tcfilter wired, qemu -incoming, agent reconnected, clock set) → first HTTP 200 from the same httpd"),
            ("Checkpoint size (p50)", $"{Percentiles.Of(sizes, 50) / 1024 / 1024:0.0} MiB ({Percentiles.Of(sizes, 50) / (MemoryMiB * 1024.0 * 1024.0):0.00} of the pod's {MemoryMiB} MiB)",
                $"every file of the directory (SandboxCheckpoint.SizeBytes); qemu sent {Percentiles.Of(memory, 50) / 1024 / 1024:0.0} MiB of RAM and device state before compression (zero pages skipped)"),
        };
        await BenchReport.WriteAsync(root, "checkpoint", $" checkpoint, load average {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))} at the end", rows);
    }

    /// <summary>Until the page answers at the pod IP, asked from the node netns (a socket made there), every 20 ms.</summary>
    private static async Task WaitForPageAsync(string nodeNamespace)
    {
        var deadline = DateTime.UtcNow + Limit;
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            using var socket = NetworkNamespace.Run(nodeNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(CniLikePodNetwork.PodAddress), 80), attempt.Token);
                await socket.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"), attempt.Token);
                var response = new StringBuilder();
                var buffer = new byte[4096];
                int read;
                while ((read = await socket.ReceiveAsync(buffer, attempt.Token)) > 0)
                {
                    response.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
                string text = response.ToString();
                // busybox httpd answers HTTP/1.1 whatever the request said.
                if (text.StartsWith("HTTP/1.", StringComparison.Ordinal) && text.Split('\n')[0].Contains(" 200 ", StringComparison.Ordinal) && text.EndsWith(Page, StringComparison.Ordinal))
                {
                    return;
                }
                last = text.Split('\n')[0];
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                last = e.Message;
            }
            await Task.Delay(20);
        }
        throw new InvalidOperationException($"the page did not answer at {CniLikePodNetwork.PodAddress}:80 within {Limit.TotalSeconds:0} s: {last}");
    }

    private static string Spread(List<double> milliseconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{Percentiles.Of(milliseconds, 50) / 1000:0.00} s ({milliseconds.Min() / 1000:0.00}–{milliseconds.Max() / 1000:0.00} s)");

    private static string Seconds(double milliseconds) => string.Create(CultureInfo.InvariantCulture, $"{milliseconds / 1000:0.00} s");

    private static string Ratio(List<double> milliseconds, double coldMs) =>
        string.Create(CultureInfo.InvariantCulture, $"{Percentiles.Of(milliseconds, 50) / coldMs:0.00}×");
}
