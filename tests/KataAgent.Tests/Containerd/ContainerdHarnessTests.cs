using System.Net;
using System.Text;
using FluentAssertions;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Containerd.Cri;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Containerd;

/// <summary>
/// The containerd harness of the VM tests (KataAgent.Testing/Containerd) checked with containerd's own runc runtime,
/// so that a failure there says "harness" and not "shim": the private containerd, the offline busybox image, ctr's
/// exit codes and streams, the CRI client, the CNI bridge network and the leftover snapshot.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public sealed class ContainerdHarnessTests(RuncContainerdFixture fixture) : IClassFixture<RuncContainerdFixture>
{
    private PrivateContainerd Containerd => fixture.Containerd;

    [Fact]
    public async Task CtrRunWithRuncGivesTheImagesOutputAndTheExitCode()
    {
        string id = "h-" + Guid.NewGuid().ToString("N")[..8];

        var result = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.RuncRuntime, BusyboxOciImage.Reference, id,
            "sh", "-c", "echo out; head -1 /etc/passwd; echo err >&2; exit 3"]);

        result.ExitCode.Should().Be(3, result.ToString());
        result.StandardOutput.Should().Be("out\nroot:x:0:0:root:/root:/bin/sh\n", result.ToString());
        result.StandardError.Should().Contain("err");
        (await Containerd.CtrAsync(["tasks", "ls", "-q"])).StandardOutput.Should().NotContain(id);
        (await Containerd.CtrAsync(["containers", "ls", "-q"])).StandardOutput.Should().NotContain(id);
    }

    [Fact]
    public async Task TheImagesCarryTheirNamesAndThePauseImageSleeps()
    {
        var images = await Containerd.CtrInAsync(PrivateContainerd.CriNamespace, ["images", "ls", "-q"]);

        images.StandardOutput.Split('\n').Should().Contain([BusyboxOciImage.Reference, BusyboxOciImage.PauseReference]);
        string id = "p-" + Guid.NewGuid().ToString("N")[..8];
        (await Containerd.CtrAsync(["run", "-d", BusyboxOciImage.PauseReference, id])).EnsureSuccess("ctr run -d pause");
        await Task.Delay(500);
        var tasks = await Containerd.CtrAsync(["tasks", "ls"]);
        tasks.StandardOutput.Should().MatchRegex($"{id}\\s+\\d+\\s+RUNNING");
        (await Containerd.CtrAsync(["tasks", "kill", "-s", "SIGKILL", id])).EnsureSuccess("ctr tasks kill");
        await WaitForAsync(async () => (await Containerd.CtrAsync(["tasks", "ls"])).StandardOutput.Contains("STOPPED"), "the pause task to stop");
        (await Containerd.CtrAsync(["tasks", "delete", id])).EnsureSuccess("ctr tasks delete");
        (await Containerd.CtrAsync(["containers", "delete", id])).EnsureSuccess("ctr containers delete");
    }

    [Fact]
    public async Task ACriPodWithRuncServesHttpOnItsIpToTheNodeAndLeavesNothingBehind()
    {
        using var cri = Containerd.CreateCriClient();
        var version = await cri.Runtime.VersionAsync(new VersionRequest { Version = "v1" });
        version.RuntimeName.Should().Be("containerd");
        var before = Containerd.CaptureFootprint();
        var podConfig = CriPods.SandboxConfig("harness");

        string podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = podConfig, RuntimeHandler = PrivateContainerd.RuncHandler })).PodSandboxId;
        var status = (await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId })).Status;
        status.State.Should().Be(PodSandboxState.SandboxReady);
        string podIp = status.Network.Ip;
        IPAddress.Parse(podIp).ToString().Should().StartWith(Containerd.Cni!.Subnet[..^"0/24".Length]);
        string containerId = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = podConfig,
            Config = CriPods.HttpdContainer("web", "harness page"),
        })).ContainerId;
        await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = containerId });

        var exec = await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = containerId, Cmd = { "sh", "-c", "hostname; exit 4" }, Timeout = 60 });
        exec.ExitCode.Should().Be(4);
        exec.Stdout.ToStringUtf8().Should().Be("harness\n");
        (await CriPods.FetchAsync(podIp)).Should().Be("harness page\n");

        await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
        await WaitForAsync(() => Task.FromResult(Containerd.ShimPids(PrivateContainerd.CriNamespace, podId).Count == 0), "runc's shim to exit");
        var left = before.Added(Containerd.CaptureFootprint());
        // The node's bridge stays for the next pod, as on a real node; the harness deletes it at the end.
        left.Should().BeSubsetOf(["link " + Containerd.Cni.BridgeName]);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"waiting for {what}");
            await Task.Delay(200);
        }
    }
}
