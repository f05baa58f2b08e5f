using System.Globalization;
using KataAgent.Host;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Kernel;
using KataAgent.Testing.FloorInit;

namespace KataAgent.Bench.Boot;

/// <summary>
/// Issue 4's VM benchmarks: boot-to-ready of the agent's image next to the floor (the same kernel
/// and qemu command line with a C /init that only writes a line to the agent channel), booted in
/// turns in the same run so both see the same machine load; the agent's RSS and the guest's memory
/// after boot; the initrd's size by part; launch-to-workload once the Sandbox API is there.
/// Prints a Markdown table and writes it to out/bench/boot.md.
/// </summary>
internal static class BootBench
{
    /// <summary>Boots of each image that count, after one warm-up boot of each (page cache, qemu's first start).</summary>
    private const int Runs = 5;

    public static async Task RunAsync(string root)
    {
        string agentBinary = Path.Combine(root, "out", "kata-agent");
        string scratch = Directory.CreateTempSubdirectory("ka-boot-bench-").FullName;
        var rows = new List<(string Name, string Value, string Note)>();
        try
        {
            var kernel = await KernelPackage.ObtainDebianAsync();
            var modules = await kernel.LoadModulesAsync();

            // The agent's image exactly as build.sh's `kata-rootfs build` makes out/initrd.img, built
            // here to get its parts' sizes; the comparison below says whether the bytes are the same.
            var agentImage = await new InitrdBuilder(new InitrdOptions { AgentPath = agentBinary, InitHelperPath = InitrdOptions.InitHelperBeside(agentBinary), Kernel = modules, BusyboxPath = "/bin/busybox" })
                .BuildAsync(Path.Combine(scratch, "agent-initrd.img"));
            string outImage = Path.Combine(root, "out", "initrd.img");
            bool sameAsOut = File.Exists(outImage) && File.ReadAllBytes(outImage).SequenceEqual(File.ReadAllBytes(agentImage.Path));
            // The same image gzip-compressed (the default before issue 16), booted in the same turns: what the
            // kernel's gunzip costs, measured against the same floor.
            var gzipImage = await new InitrdBuilder(new InitrdOptions { AgentPath = agentBinary, InitHelperPath = InitrdOptions.InitHelperBeside(agentBinary), Kernel = modules, BusyboxPath = "/bin/busybox", Compression = InitrdCompression.Gzip })
                .BuildAsync(Path.Combine(scratch, "agent-initrd-gzip.img"));
            var floorImage = await FloorInitrd.BuildAsync(modules, Path.Combine(scratch, "floor-initrd.img"), Path.Combine(scratch, "floor"));
            Console.Error.WriteLine($"boot bench: kernel {kernel.KernelVersion}; agent image {agentImage.CompressedSize} B, floor image {floorImage.CompressedSize} B; {Runs} boots of each after a warm-up");

            var agentBoots = new List<AgentBoot>();
            var gzipBoots = new List<AgentBoot>();
            var ttrpcBoots = new List<AgentBoot>();
            var floorBoots = new List<FloorBoot>();
            bool usesKvm = false;
            for (int i = 0; i <= Runs; i++)
            {
                // In turns, so that a burst of load from elsewhere on the machine hits both series alike.
                var options = new QemuOptions { KernelPath = kernel.VmlinuzPath, InitrdPath = agentImage.Path, StateDirectory = Path.Combine(scratch, $"agent-vm-{i}") };
                var (agent, kvm) = await BootAgentAsync(options);
                var floor = await FloorVm.BootAsync(options with { InitrdPath = floorImage.Path, StateDirectory = Path.Combine(scratch, $"floor-vm-{i}") });
                var (gzip, _) = await BootAgentAsync(options with { InitrdPath = gzipImage.Path, StateDirectory = Path.Combine(scratch, $"gzip-vm-{i}") });
                // Kata's runtime speaks ttrpc: the same image, the first Check (and everything after) over ttrpc.
                var (ttrpc, _) = await BootAgentAsync(options with { AgentProtocol = AgentProtocol.Ttrpc, StateDirectory = Path.Combine(scratch, $"ttrpc-vm-{i}") });
                usesKvm = kvm;
                Console.Error.WriteLine($"boot bench: run {i}{(i == 0 ? " (warm-up)" : "")}: agent ready after {agent.ToReady.TotalMilliseconds:0} ms (gRPC), {ttrpc.ToReady.TotalMilliseconds:0} ms (ttrpc), floor after {floor.ToReady.TotalMilliseconds:0} ms, agent gzip image after {gzip.ToReady.TotalMilliseconds:0} ms");
                if (i > 0)
                {
                    agentBoots.Add(agent);
                    floorBoots.Add(floor);
                    gzipBoots.Add(gzip);
                    ttrpcBoots.Add(ttrpc);
                }
            }

            var agentMs = agentBoots.Select(b => b.ToReady.TotalMilliseconds).ToList();
            var floorMs = floorBoots.Select(b => b.ToReady.TotalMilliseconds).ToList();
            var gzipMs = gzipBoots.Select(b => b.ToReady.TotalMilliseconds).ToList();
            var ttrpcMs = ttrpcBoots.Select(b => b.ToReady.TotalMilliseconds).ToList();
            string accel = usesKvm ? "KVM" : "TCG (no /dev/kvm)";
            string machine = $"qemu {accel}, q35, 1 vCPU, 512 MiB, kernel {kernel.KernelVersion}";
            rows.Add(("Boot to ready: qemu start → first Check answered (p50, min–max)", $"{Spread(agentMs)}",
                $"QemuVm.StartAsync's BootToReady, {Runs} boots after 1 warm-up; {machine}; out/initrd.img's content{(sameAsOut ? " (byte-identical to out/initrd.img)" : "")}"));
            rows.Add(("Floor: qemu start → \"ready\" on the agent channel (p50, min–max)", $"{Spread(floorMs)}",
                $"the same kernel and qemu command line, /init = FloorInit/floor-init.c (static C: devtmpfs, sysfs, {floorImage.Modules.Count} modules {string.Join(", ", floorImage.Modules.Select(m => m.Name))} by finit_module, write to the port); booted in turns with the agent"));
            double overhead = Percentiles.Of(agentMs, 50) - Percentiles.Of(floorMs, 50);
            rows.Add(("Agent over the floor (p50)", $"+{overhead / 1000:0.00} s ({Percentiles.Of(agentMs, 50) / Percentiles.Of(floorMs, 50):0.00}×)",
                $"what the agent does beyond the floor before answering: the .NET (Native AOT) runtime start, the other mounts, {agentImage.Modules.Count - floorImage.Modules.Count} more modules, the web host and Kestrel (started by the first HTTP/2 connection), HTTP/2 and the gRPC Check"));
            rows.Add(("Boot to ready over ttrpc: qemu start → first ttrpc Check answered (p50, min–max)", Spread(ttrpcMs),
                $"QemuOptions.AgentProtocol = Ttrpc (as Kata's runtime and our shim speak), the same image, booted in the same turns; {Percentiles.Of(ttrpcMs, 50) / Percentiles.Of(floorMs, 50):0.00}× the floor; no web host is built"));
            rows.Add(("The same agent image gzip-compressed: boot to ready (p50, min–max)", Spread(gzipMs),
                $"{Size(gzipImage.CompressedSize)} instead of {Size(agentImage.CompressedSize)} ({agentImage.Compression.ToString().ToLowerInvariant()}); booted in the same turns; {Percentiles.Of(gzipMs, 50) / Percentiles.Of(floorMs, 50):0.00}× the floor"));
            rows.Add(("— floor: guest uptime at \"ready\" (p50)", $"{Median(floorBoots.Select(b => (long)b.GuestUptime.TotalMilliseconds)) / 1000.0:0.00} s",
                "/proc/uptime read by the floor init right after writing \"ready\": the kernel's own share of the floor; the rest is qemu's start and the firmware before the kernel's clock starts"));
            rows.Add(("— agent CPU time 1 s after ready (p50)", $"{Median(agentBoots.Select(b => (long)b.CpuTime.TotalMilliseconds)) / 1000.0:0.00} s",
                "GetMetrics' kata_agent_total_time (PID 1's utime + stime, helpers not included), 1 vCPU under TCG"));

            var last = agentBoots[^1];
            rows.Add(("Agent RSS inside the guest (p50 of VmRSS)", $"{Mib(Median(agentBoots.Select(b => b.VmRssKiB)))} MiB",
                $"GetMetrics' kata_agent_proc_status{{item=\"vmrss\"}} (the agent's /proc/self/status as PID 1), 1 s after the first Check; last boot: RssAnon {Mib(last.RssAnonKiB)} MiB, RssShmem {Mib(last.RssShmemKiB)} MiB (the binary's and libraries' pages: the initramfs is a tmpfs), RssFile {Mib(last.RssFileKiB)} MiB"));
            rows.Add(("Guest MemTotal / MemAvailable after boot, agent image (p50)", $"{Mib(Median(agentBoots.Select(b => b.MemTotalKiB)))} / {Mib(Median(agentBoots.Select(b => b.MemAvailableKiB)))} MiB",
                "GetMetrics' kata_guest_meminfo{item=\"mem_total\"/\"mem_available\"}, 1 s after the first Check; -m 512"));
            var lastTtrpc = ttrpcBoots[^1];
            rows.Add(("Agent RSS inside the guest, only ttrpc used (p50 of VmRSS)", $"{Mib(Median(ttrpcBoots.Select(b => b.VmRssKiB)))} MiB",
                $"the ttrpc boots: 1 s after the first ttrpc Check, GetMetrics over ttrpc; last boot: RssAnon {Mib(lastTtrpc.RssAnonKiB)} MiB, RssShmem {Mib(lastTtrpc.RssShmemKiB)} MiB; MemAvailable {Mib(Median(ttrpcBoots.Select(b => b.MemAvailableKiB)))} MiB (p50)"));
            rows.Add(("Guest MemTotal / MemAvailable after boot, floor image (p50)", $"{Mib(Median(floorBoots.Select(b => b.MemTotalKiB)))} / {Mib(Median(floorBoots.Select(b => b.MemAvailableKiB)))} MiB",
                "/proc/meminfo read by the floor init right after \"ready\"; the difference in MemAvailable is what the agent's image and the agent cost the guest"));

            rows.Add(("Agent initrd, compressed (out/initrd.img)", Size(agentImage.CompressedSize), $"{agentImage.Compression.ToString().ToLowerInvariant()} cpio newc, {agentImage.EntryCount} entries, from our InitrdBuilder"));
            rows.Add(("Agent initrd, uncompressed cpio", Size(agentImage.UncompressedSize), "the parts below, the skeleton and the module list"));
            rows.Add(("— agent binary (/init)", Size(agentImage.AgentSize), "out/kata-agent, Native AOT"));
            rows.Add(("— shared libraries", Size(agentImage.LibrariesSize), string.Join(", ", agentImage.Libraries.Select(l => Path.GetFileName(l.Path)))));
            rows.Add(("— kernel modules", Size(agentImage.ModulesSize), $"{agentImage.Modules.Count} modules, decompressed (the kernel loads them from memory)"));
            rows.Add(("— busybox (debug console)", Size(agentImage.BusyboxSize), "/bin/busybox, static"));
            rows.Add(("Floor initrd, compressed / uncompressed", $"{Size(floorImage.CompressedSize)} / {Size(floorImage.UncompressedSize)}", $"floor-init {Size(floorImage.AgentSize)} (gcc -static -Os -s, glibc), {floorImage.Modules.Count} modules {Size(floorImage.ModulesSize)}"));
            rows.Add(("Kernel (out/vmlinuz)", Size(new FileInfo(kernel.VmlinuzPath).Length), $"Debian {kernel.PackageName ?? "given kernel"}, both images"));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        await BenchReport.WriteAsync(root, "boot", $", load average {LoadAverage()} at the end (other work on the machine slows TCG)", rows);
    }

    /// <summary>Boots the agent's image with the host library's launcher, then reads its metrics 1 s after it first answered.</summary>
    private static async Task<(AgentBoot Boot, bool UsesKvm)> BootAgentAsync(QemuOptions options)
    {
        await using var vm = await QemuVm.StartAsync(options);
        await Task.Delay(TimeSpan.FromSeconds(1));
        string metrics = (await vm.Agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_;
        long Kib(string item) => (long)PrometheusSamples.Value(metrics, "kata_agent_proc_status", item);
        long GuestKib(string item) => (long)(PrometheusSamples.Value(metrics, "kata_guest_meminfo", item) / 1024);
        var cpu = TimeSpan.FromSeconds(PrometheusSamples.Value(metrics, "kata_agent_total_time"));
        var boot = new AgentBoot(vm.BootToReady, cpu, Kib("vmrss"), Kib("rssanon"), Kib("rssfile"), Kib("rssshmem"), GuestKib("mem_total"), GuestKib("mem_available"));
        return (boot, vm.UsesKvm);
    }

    private static string Spread(List<double> milliseconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{Percentiles.Of(milliseconds, 50) / 1000:0.00} s ({milliseconds.Min() / 1000:0.00}–{milliseconds.Max() / 1000:0.00} s)");

    private static long Median(IEnumerable<long> values) => (long)Percentiles.Of(values.Select(v => (double)v).ToList(), 50);

    private static string Mib(long kib) => (kib / 1024.0).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Size(long bytes) => (bytes / 1024.0 / 1024.0).ToString("0.00", CultureInfo.InvariantCulture) + " MiB";

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
