using System.Diagnostics;
using KataAgent.Host.Containers;
using KataAgent.Host.Pods;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Bench.Pods;

/// <summary>
/// A pod of three busybox containers launched to all running, through one CreatePod and StartPod
/// (<see cref="Pod.CreateAsync"/>, <see cref="Pod.StartAsync"/>) beside the same pod built with Kata's per-container
/// calls (<see cref="Sandbox.StartAsync"/>, then CreateContainer and StartContainer for each), alternated in one run on
/// the same kernel and image; each measured whole (qemu started → the last container running) and without the VM's
/// boot (its BootToReady). Then the resize latency of one pod: a vCPU up, a DIMM up, each back down. Prints a
/// Markdown table and writes it to out/bench/pods.md.
/// </summary>
internal static class PodBench
{
    private const int Runs = 3;
    private static readonly string[] Names = ["web", "side", "log"];
    private static readonly string[] Sleep = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"];

    public static async Task RunAsync(string root)
    {
        string scratch = Directory.CreateTempSubdirectory("ka-pod-bench-").FullName;
        var rows = new List<(string Name, string Value, string Note)>();
        try
        {
            string rootfs = await BenchRootfs.CreateAsync(Directory.CreateDirectory(Path.Combine(scratch, "rootfs")).FullName);
            var podWhole = new List<double>();
            var podAfterBoot = new List<double>();
            var rpcWhole = new List<double>();
            var rpcAfterBoot = new List<double>();
            for (int run = 0; run <= Runs; run++)
            {
                var (pw, pa) = await PodOnceAsync(root, scratch, rootfs, run);
                var (rw, ra) = await PerContainerOnceAsync(root, scratch, rootfs, run);
                Console.Error.WriteLine($"pod bench run {run}{(run == 0 ? " (warm-up)" : "")}: CreatePod {pw:0} ms ({pa:0} after boot), per-container {rw:0} ms ({ra:0} after boot)");
                if (run > 0)
                {
                    podWhole.Add(pw);
                    podAfterBoot.Add(pa);
                    rpcWhole.Add(rw);
                    rpcAfterBoot.Add(ra);
                }
            }
            rows.Add(("Pod of 3 launched to all running, CreatePod + StartPod (p50, min–max)", Span(podWhole), $"Pod.CreateAsync called → StartAsync returned: qemu, the agent, CreatePod (sandbox and 3 containers), StartPod; {Runs} runs after 1 warm-up"));
            rows.Add(("The same, per-container calls (p50, min–max)", Span(rpcWhole), "Sandbox.StartAsync (qemu, the agent, CreateSandbox), then CreateContainer ×3 and StartContainer ×3, alternated with the above"));
            rows.Add(("Ratio per-container / CreatePod, whole launch (p50)", $"{Percentiles.Of(rpcWhole, 50) / Percentiles.Of(podWhole, 50):0.00}×", "both measured in this run"));
            rows.Add(("After the boot: CreatePod path / per-container path (p50)", $"{Percentiles.Of(podAfterBoot, 50):0} ms / {Percentiles.Of(rpcAfterBoot, 50):0} ms", "the launch less the VM's BootToReady (qemu started → the agent's first answer)"));
            rows.Add(("Ratio per-container / CreatePod, after the boot (p50)", $"{Percentiles.Of(rpcAfterBoot, 50) / Percentiles.Of(podAfterBoot, 50):0.00}×", "both measured in this run"));
            rows.AddRange(await ResizeAsync(root, scratch, rootfs));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
        await BenchReport.WriteAsync(root, "pods", $", {(File.Exists("/dev/kvm") ? "KVM" : "TCG")}, out/vmlinuz + out/initrd.img, the agent on vsock, virtio-fs rootfs", rows);
    }

    private static QemuOptions Vm(string root, string state) => new()
    {
        KernelPath = Path.Combine(root, "out", "vmlinuz"),
        InitrdPath = Path.Combine(root, "out", "initrd.img"),
        StateDirectory = state,
    };

    private static PodSpec Spec(string name, string rootfs) => new()
    {
        Name = name,
        Containers = [.. Names.Select(n => new PodContainerSpec
        {
            Name = n,
            Rootfs = rootfs,
            Command = Sleep,
            Resources = new PodResources { CpuRequestMilli = 250, CpuLimitMilli = 1000, MemoryRequestBytes = 32L << 20, MemoryLimitBytes = 128L << 20 },
        })],
    };

    private static async Task<(double Whole, double AfterBoot)> PodOnceAsync(string root, string scratch, string rootfs, int run)
    {
        long start = Stopwatch.GetTimestamp();
        var pod = await Pod.CreateAsync(Spec($"pod{run}", rootfs), new PodOptions { Vm = Vm(root, Path.Combine(scratch, $"pod{run}")) });
        await pod.StartAsync();
        double whole = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        double boot = pod.Sandbox.BootToReady.TotalMilliseconds;
        await pod.DeleteAsync(TimeSpan.Zero);
        return (whole, whole - boot);
    }

    private static async Task<(double Whole, double AfterBoot)> PerContainerOnceAsync(string root, string scratch, string rootfs, int run)
    {
        long start = Stopwatch.GetTimestamp();
        // The same VM size as the pod's (the formula on its spec), so that only the calls differ.
        var sandbox = await Sandbox.StartAsync(new SandboxOptions
        {
            Id = $"rpc{run}",
            Vm = Vm(root, Path.Combine(scratch, $"rpc{run}")) with { Cpus = 2, MemoryMiB = 352, MaxCpus = Environment.ProcessorCount },
        }, CancellationToken.None);
        var containers = new List<Container>();
        foreach (string name in Names)
        {
            var spec = ContainerSpecs.Default(Sleep, terminal: false);
            containers.Add(await sandbox.CreateContainerAsync(name, rootfs, spec));
        }
        foreach (var container in containers)
        {
            await container.StartAsync();
        }
        double whole = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        double boot = sandbox.BootToReady.TotalMilliseconds;
        foreach (var container in containers)
        {
            await container.DisposeAsync();
        }
        await sandbox.DestroyAsync();
        return (whole, whole - boot);
    }

    private static async Task<List<(string, string, string)>> ResizeAsync(string root, string scratch, string rootfs)
    {
        await using var pod = await Pod.CreateAsync(Spec("resize", rootfs), new PodOptions
        {
            Vm = Vm(root, Path.Combine(scratch, "resize")) with { MemorySlots = 4 },
            Sizing = new PodSizingOptions { MaxCpus = 4 },
        });
        await pod.StartAsync();
        var size = await pod.Sandbox.EnsureResourcesAsync(0, 0);
        var cpuUp = new List<double>();
        var cpuDown = new List<double>();
        var memoryUp = new List<double>();
        var memoryDown = new List<double>();
        for (int run = 0; run < Runs; run++)
        {
            cpuUp.Add(await TimeAsync(() => pod.ResizeAsync(size.Cpus + 1, size.MemoryMiB)));
            cpuDown.Add(await TimeAsync(() => pod.ResizeAsync(size.Cpus, size.MemoryMiB)));
            memoryUp.Add(await TimeAsync(() => pod.ResizeAsync(size.Cpus, size.MemoryMiB + Sandbox.MemoryBlockMiB)));
            memoryDown.Add(await TimeAsync(() => pod.ResizeAsync(size.Cpus, size.MemoryMiB)));
            Console.Error.WriteLine($"pod bench resize run {run}: cpu up {cpuUp[^1]:0} ms, down {cpuDown[^1]:0} ms; memory up {memoryUp[^1]:0} ms, down {memoryDown[^1]:0} ms");
        }
        await pod.DeleteAsync(TimeSpan.Zero);
        return
        [
            ("Resize, one vCPU up (p50, min–max)", Span(cpuUp), $"Pod.ResizeAsync: device_add of a vCPU (the first time; later ones online the vCPU kept offline), UpdatePod onlining it; {Runs} runs on a {size.Cpus}-vCPU pod"),
            ("Resize, that vCPU down (p50)", $"{Percentiles.Of(cpuDown, 50):0} ms", "UpdatePod offlining it (it stays plugged, docs/PODS.md \"Resizing\")"),
            ("Resize, 128 MiB up (p50, min–max)", Span(memoryUp), "object-add + device_add of a pc-dimm, UpdatePod onlining its block movable"),
            ("Resize, that 128 MiB down (p50)", $"{Percentiles.Of(memoryDown, 50):0} ms", "UpdatePod, then device_del of the DIMM until DEVICE_DELETED (the guest offlines the block), object-del"),
        ];
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        long start = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static string Span(List<double> milliseconds) =>
        $"{Percentiles.Of(milliseconds, 50):0} ms ({milliseconds.Min():0}–{milliseconds.Max():0} ms)";
}
