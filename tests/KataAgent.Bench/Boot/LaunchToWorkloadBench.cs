using System.Diagnostics;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Bench.Boot;

/// <summary>
/// Launch-to-workload, Kata's "boot-times" measure: from asking for a sandbox to the first byte the
/// container's workload writes, through the Sandbox API exactly as `kactl run` uses it (boot the VM,
/// wait for the agent, CreateSandbox, pack the rootfs into an ext4 image, hot-plug it as virtio-blk,
/// CreateContainer with a blk storage, StartContainer, read stdout). Prints a Markdown table and
/// writes it to out/bench/workload.md.
/// </summary>
internal static class LaunchToWorkloadBench
{
    /// <summary>Launches that count, after one warm-up.</summary>
    private const int Runs = 3;

    private const string Marker = "workload-output";

    public static async Task RunAsync(string root)
    {
        string kernel = Path.Combine(root, "out", "vmlinuz");
        string initrd = Path.Combine(root, "out", "initrd.img");
        string scratch = Directory.CreateTempSubdirectory("ka-workload-bench-").FullName;
        var toOutput = new List<double>();
        var toReady = new List<double>();
        var toCreated = new List<double>();
        try
        {
            string rootfs = await BenchRootfs.CreateAsync(scratch);
            for (int i = 0; i <= Runs; i++)
            {
                var clock = Stopwatch.StartNew();
                await using var sandbox = await Sandbox.StartAsync(new SandboxOptions
                {
                    Id = $"bench-{i}",
                    Hostname = "bench",
                    Vm = new QemuOptions
                    {
                        KernelPath = kernel,
                        InitrdPath = initrd,
                        StateDirectory = Path.Combine(scratch, $"sandbox-{i}"),
                    },
                }, CancellationToken.None);
                double ready = clock.Elapsed.TotalMilliseconds;
                var spec = ContainerSpecs.Default(["/bin/echo", Marker], terminal: false);
                var container = await sandbox.CreateContainerAsync("workload", rootfs, spec, cancellationToken: CancellationToken.None);
                double created = clock.Elapsed.TotalMilliseconds;
                await container.StartAsync();
                var first = new byte[1];
                int read = await container.InitProcess.Stdout.ReadAsync(first);
                double output = clock.Elapsed.TotalMilliseconds;
                if (read != 1)
                {
                    throw new InvalidOperationException("the workload's stdout ended without output");
                }
                int exitCode = await container.InitProcess.WaitAsync();
                if (exitCode != 0)
                {
                    throw new InvalidOperationException($"the workload exited with {exitCode}");
                }
                Console.Error.WriteLine($"workload bench: run {i}{(i == 0 ? " (warm-up)" : "")}: agent ready {ready:0} ms, container created {created:0} ms, first output {output:0} ms");
                if (i > 0)
                {
                    toReady.Add(ready);
                    toCreated.Add(created - ready);
                    toOutput.Add(output);
                }
                // Removed while the agent is there to do it, then the sandbox destroyed (a removal after the destroy
                // finds the sandbox disposed).
                await container.RemoveAsync();
                await container.DisposeAsync();
                await sandbox.DestroyAsync();
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        static string Seconds(List<double> ms) => $"{Percentiles.Of(ms, 50) / 1000:0.00} s ({ms.Min() / 1000:0.00}–{ms.Max() / 1000:0.00} s)";
        var rows = new List<(string Name, string Value, string Note)>
        {
            ("Launch to workload output (p50, min–max)", Seconds(toOutput), $"Sandbox.StartAsync called → first stdout byte of `/bin/echo {Marker}` in a busybox container; {Runs} launches after 1 warm-up; out/vmlinuz + out/initrd.img"),
            ("— of which boot to sandbox ready", Seconds(toReady), "Sandbox.StartAsync: qemu start, agent's first Check, CreateSandbox"),
            ("— of which container created", Seconds(toCreated), "CreateContainerAsync: the rootfs bound into the sandbox's virtio-fs share (the default), CreateContainer"),
        };
        await BenchReport.WriteAsync(root, "workload", ", through the Sandbox API", rows);
    }
}
