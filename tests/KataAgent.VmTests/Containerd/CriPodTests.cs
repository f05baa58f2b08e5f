using FluentAssertions;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Containerd.Cri;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Containerd;

/// <summary>
/// The flow kubelet drives, through containerd's CRI plugin with the runtime handler "kataagent" and a CNI bridge
/// network, by our own CRI client: one VM per pod, sized by the pod's requests and limits.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class CriPodTests(ShimContainerdFixture fixture) : IClassFixture<ShimContainerdFixture>
{
    // The pod as kubelet would describe one of two containers, each requesting half a CPU and limited to one CPU and
    // 256 MiB: requests 1 CPU (shares 1024), limits 2 CPUs (quota 200000 per 100000) and 512 MiB.
    private const long PodShares = 1024;
    private const long PodQuota = 200_000;
    private const long Period = 100_000;
    private const long PodMemory = 512L << 20;

    private PrivateContainerd Containerd => fixture.Containerd;

    [Fact]
    public async Task APodOfTwoContainersRunsInOneVmSizedByItsRequestsServesItsIpAndLeavesNothing()
    {
        var sizing = ShimContainerdFixture.ShimSettings["sizing"]!;
        int baseCpus = (int)sizing["baseCpus"]!;
        int baseMemoryMiB = (int)sizing["baseMemoryMiB"]!;
        using var cri = Containerd.CreateCriClient();
        var before = Containerd.CaptureFootprint();
        var podConfig = CriPods.SandboxConfig("kpod", new LinuxContainerResources
        {
            CpuShares = PodShares, CpuQuota = PodQuota, CpuPeriod = Period, MemoryLimitInBytes = PodMemory,
        });

        string podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = podConfig, RuntimeHandler = PrivateContainerd.KataAgentHandler })).PodSandboxId;

        var status = (await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId })).Status;
        status.State.Should().Be(PodSandboxState.SandboxReady);
        string podIp = status.Network.Ip;
        podIp.Should().StartWith(Containerd.Cni!.Subnet[..^"0/24".Length]);
        ShimHost.QemuPids(Containerd, PrivateContainerd.CriNamespace, podId).Should().ContainSingle("the pod is one VM");
        int qemu = ShimHost.QemuPids(Containerd, PrivateContainerd.CriNamespace, podId)[0];
        // Boot size from the requests (the CPU request and the memory), room up to the limits (docs/SHIM.md "Sizing").
        QemuSize.Of(qemu).Should().Be(new QemuSize(
            Cpus: baseCpus + (int)Math.Ceiling(PodShares / 1024.0),
            MaxCpus: baseCpus + (int)Math.Ceiling(PodQuota / (double)Period),
            MemoryMiB: baseMemoryMiB + (int)(PodMemory >> 20),
            MaxMemoryMiB: baseMemoryMiB + (int)(PodMemory >> 20)));

        var limits = new LinuxContainerResources { CpuShares = 512, CpuQuota = Period, CpuPeriod = Period, MemoryLimitInBytes = 256L << 20 };
        string web = await StartContainerAsync(cri, podId, podConfig, CriPods.HttpdContainer("web", "served from the pod", limits));
        string side = await StartContainerAsync(cri, podId, podConfig, CriPods.Container("side", ["sleep", "3600"], limits));

        // Scoped to this pod's ids, so that what another test left does not count here.
        ShimHost.QemuPids(Containerd, PrivateContainerd.CriNamespace, podId).Should().Equal([qemu]);
        foreach (string container in new[] { web, side })
        {
            ShimHost.QemuPids(Containerd, PrivateContainerd.CriNamespace, container).Should().BeEmpty("both containers join the pod's VM");
            Containerd.ShimPids(PrivateContainerd.CriNamespace, container).Should().BeEmpty("the pod's shim serves its containers");
        }
        Containerd.ShimPids(PrivateContainerd.CriNamespace, podId).Should().ContainSingle("one shim serves the pod");
        // Two containers of one CPU each: base + 2 vCPUs online, within the pod's limit.
        string size = await ExecAsync(cri, web, "grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo");
        string[] lines = size.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int.Parse(lines[0]).Should().Be(baseCpus + 2);
        long memTotalKiB = long.Parse(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        // MemTotal is the VM's memory less what the kernel keeps for itself (its image, reserved ranges).
        memTotalKiB.Should().BeInRange((baseMemoryMiB + 512 - 160) * 1024L, (baseMemoryMiB + 512) * 1024L);
        var stats = await cri.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = web });
        stats.Stats.Memory.WorkingSetBytes.Value.Should().BeGreaterThan(0);
        // The sibling sees the web server on the pod's loopback: one network namespace for the pod.
        // nc, not busybox-static's wget, which crashes in its static glibc resolver.
        var fromSide = await ExecAsync(cri, side, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 127.0.0.1 80 | sed '1,/^\\r$/d'; hostname");
        fromSide.Should().Be("served from the pod\nkpod\n");
        (await ExecAsync(cri, side, "pidof httpd || echo none")).Should().Be("none\n", "without shareProcessNamespace each container has a PID namespace of its own");
        (await CriPods.FetchAsync(podIp)).Should().Be("served from the pod\n");

        await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        (await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = web })).Status.State.Should().Be(ContainerState.ContainerExited);
        await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
        await ShimHost.WaitForShimGoneAsync(Containerd, PrivateContainerd.CriNamespace, podId);
        // The node's bridge stays for the next pod, as on a real node; the harness deletes it at the end.
        before.Added(Containerd.CaptureFootprint()).Should().BeSubsetOf(["link " + Containerd.Cni.BridgeName]);
    }

    [Fact]
    public async Task APodSharingItsProcessNamespaceSeesItsContainersUnderThePauseProcessUntilThePodGoes()
    {
        using var cri = Containerd.CreateCriClient();
        var before = Containerd.CaptureFootprint();
        // Kubernetes' shareProcessNamespace: true, as kubelet sends it (the pod's and every container's pid mode POD).
        var podConfig = CriPods.SandboxConfig("ppod", pid: NamespaceMode.Pod);
        string podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = podConfig, RuntimeHandler = PrivateContainerd.KataAgentHandler })).PodSandboxId;
        string first = await StartContainerAsync(cri, podId, podConfig, CriPods.Container("first", ["sleep", "3601"], pid: NamespaceMode.Pod));
        string second = await StartContainerAsync(cri, podId, podConfig, CriPods.Container("second", ["sleep", "3602"], pid: NamespaceMode.Pod));

        const string Look = "tr '\\0' ' ' < /proc/1/cmdline; echo; for p in $(pidof sleep); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done | sort";
        var seen = (await ExecAsync(cri, second, Look)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        seen[0].Should().EndWith("pause ", "PID 1 of the pod's PID namespace is the agent's pause process, not a container");
        seen[1..].Should().Equal(["sleep 3601 ", "sleep 3602 "], "the second container sees the first one's process");

        // The sandbox task's metrics are the VM's (ctr asks the shim, as it asks for any task).
        var metrics = (await Containerd.CtrInAsync(PrivateContainerd.CriNamespace, ["tasks", "metrics", podId])).EnsureSuccess("ctr tasks metrics of the sandbox");
        metrics.StandardOutput.Should().MatchRegex(@"pids\.current\s+[1-9]").And.MatchRegex(@"memory\.usage\s+[1-9]").And.MatchRegex(@"cpu\.usage_usec\s+[1-9]");

        // The first container's end is not the namespace's: the second keeps running in it, under the same PID 1.
        await cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = first, Timeout = 5 });
        (await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = first })).Status.State.Should().Be(ContainerState.ContainerExited);
        (await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = second })).Status.State.Should().Be(ContainerState.ContainerRunning);
        var after = (await ExecAsync(cri, second, Look)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        after.Should().Equal([seen[0], "sleep 3602 "]);

        await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
        await ShimHost.WaitForShimGoneAsync(Containerd, PrivateContainerd.CriNamespace, podId);
        before.Added(Containerd.CaptureFootprint()).Should().BeSubsetOf(["link " + Containerd.Cni!.BridgeName]);
    }

    private static async Task<string> StartContainerAsync(CriClient cri, string podId, PodSandboxConfig podConfig, ContainerConfig config)
    {
        string id = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = podId, SandboxConfig = podConfig, Config = config })).ContainerId;
        await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id });
        (await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id })).Status.State.Should().Be(ContainerState.ContainerRunning);
        return id;
    }

    private async Task<string> ExecAsync(CriClient cri, string containerId, string script)
    {
        ExecSyncResponse result;
        try
        {
            result = await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = containerId, Cmd = { "sh", "-c", script }, Timeout = 120 });
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new InvalidOperationException($"ExecSync {script}: {e.Status}; containerd's log ends:\n{Containerd.LogTail()}", e);
        }
        result.ExitCode.Should().Be(0, result.Stderr.ToStringUtf8());
        return result.Stdout.ToStringUtf8();
    }
}
