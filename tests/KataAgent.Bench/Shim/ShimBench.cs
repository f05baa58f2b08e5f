using System.Diagnostics;
using System.Globalization;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Containerd.Cri;

namespace KataAgent.Bench.Shim;

/// <summary>
/// Our containerd runtime beside containerd's runc runtime, in the same run on one private containerd
/// (KataAgent.Testing/Containerd): <c>ctr run --rm</c> of <c>/bin/true</c> with each, alternated; CRI pod start
/// (RunPodSandbox to the first container running) with each handler; and per pod on the host, the shim's RSS (with its
/// VM's qemu and virtiofsd beside it). Writes out/bench/shim.md.
/// </summary>
internal static class ShimBench
{
    private const int Runs = 5;
    private const int PodRuns = 3;

    public static async Task RunAsync(string root)
    {
        await using var containerd = await PrivateContainerd.StartAsync();
        var rows = new List<(string Name, string Value, string Note)>();

        var ours = new List<double>();
        var runc = new List<double>();
        // One of each first, unmeasured: page cache and containerd's own first-use costs.
        await CtrRunTrueAsync(containerd, PrivateContainerd.KataAgentRuntime);
        await CtrRunTrueAsync(containerd, PrivateContainerd.RuncRuntime);
        for (int i = 0; i < Runs; i++)
        {
            ours.Add(await CtrRunTrueAsync(containerd, PrivateContainerd.KataAgentRuntime));
            runc.Add(await CtrRunTrueAsync(containerd, PrivateContainerd.RuncRuntime));
        }
        rows.Add(("`ctr run --rm` of /bin/true, io.containerd.kataagent.v2 (p50 / min / max)", Ms(ours), $"{Runs} runs alternated with runc's after one unmeasured each; the whole VM boot, container, exit and teardown; {(ShimTestConfiguration.KvmAvailable ? "KVM" : "TCG, no /dev/kvm")}"));
        rows.Add(("`ctr run --rm` of /bin/true, io.containerd.runc.v2 (p50 / min / max)", Ms(runc), "same containerd, image and snapshotter (overlayfs)"));
        rows.Add(("Ratio kataagent / runc (p50)", $"{Percentiles.Of(ours, 50) / Percentiles.Of(runc, 50):0.0}×", ""));

        using var cri = containerd.CreateCriClient();
        var podOurs = new List<double>();
        var podRunc = new List<double>();
        (long Shim, long Qemu, long Virtiofsd)? rss = null;
        for (int i = 0; i < PodRuns; i++)
        {
            var (elapsed, measured) = await PodStartAsync(cri, containerd, PrivateContainerd.KataAgentHandler, measureRss: i == 0);
            podOurs.Add(elapsed);
            rss ??= measured;
            podRunc.Add((await PodStartAsync(cri, containerd, PrivateContainerd.RuncHandler, measureRss: false)).Elapsed);
        }
        rows.Add(("CRI pod start to container running, handler kataagent (p50 / min / max)", Ms(podOurs), $"{PodRuns} pods: RunPodSandbox (CNI bridge, VM boot) + CreateContainer + StartContainer until ContainerStatus says RUNNING"));
        rows.Add(("CRI pod start to container running, handler runc (p50 / min / max)", Ms(podRunc), "the same calls, the same CNI network"));
        if (rss is { } r)
        {
            rows.Add(("Shim RSS per pod", $"{r.Shim / 1024.0:0.0} MiB", "VmRSS of containerd-shim-kataagent-v2 (Native AOT) serving one running pod of one container"));
            rows.Add(("… its VM's qemu / virtiofsd RSS", $"{r.Qemu / 1024.0:0.0} MiB / {r.Virtiofsd / 1024.0:0.0} MiB", "the same pod, for scale: the guest's memory is qemu's"));
        }
        await BenchReport.WriteAsync(root, "shim", " (shim section)", rows);
    }

    private static async Task<double> CtrRunTrueAsync(PrivateContainerd containerd, string runtime)
    {
        string id = "b-" + Guid.NewGuid().ToString("N")[..8];
        long start = Stopwatch.GetTimestamp();
        (await containerd.CtrAsync(["run", "--rm", "--runtime", runtime, BusyboxOciImage.Reference, id, "/bin/true"])).EnsureSuccess($"ctr run --runtime {runtime}");
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static async Task<(double Elapsed, (long, long, long)? Rss)> PodStartAsync(CriClient cri, PrivateContainerd containerd, string handler, bool measureRss)
    {
        var config = CriPods.SandboxConfig("bench-" + Guid.NewGuid().ToString("N")[..6]);
        long start = Stopwatch.GetTimestamp();
        string podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler })).PodSandboxId;
        string id = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest
        {
            PodSandboxId = podId, SandboxConfig = config, Config = CriPods.Container("main", ["sleep", "3600"]),
        })).ContainerId;
        await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id });
        while ((await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id })).Status.State != ContainerState.ContainerRunning)
        {
            await Task.Delay(10);
        }
        double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        (long, long, long)? rss = null;
        if (measureRss)
        {
            await Task.Delay(2000);
            rss = (containerd.ShimPids().Sum(RssKiB), SumRss(containerd, "qemu-system"), SumRss(containerd, "virtiofsd"));
        }
        await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
        return (elapsed, rss);
    }

    private static long SumRss(PrivateContainerd containerd, string command) =>
        HostFootprint.ProcessesNaming(containerd.ShimStateRoot)
            .Select(p => p.Split(' ', 3))
            .Where(p => Path.GetFileName(p[1]).StartsWith(command, StringComparison.Ordinal))
            .Sum(p => RssKiB(int.Parse(p[0], CultureInfo.InvariantCulture)));

    private static long RssKiB(int pid)
    {
        try
        {
            string line = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string Ms(List<double> samples) =>
        $"{Percentiles.Of(samples, 50):0} ms / {samples.Min():0} ms / {samples.Max():0} ms";
}
