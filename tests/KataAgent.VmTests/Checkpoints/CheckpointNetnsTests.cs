using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Rootfs.Busybox;
using KataAgent.Testing.Network;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Checkpoints;

/// <summary>
/// A pod checkpointed in one pod netns and restored into another (qemu under TCG): a container serving HTTP with busybox
/// httpd in netns A, the VM checkpointed and stopped (A as CNI left it again), restored into a second CNI-like netns B
/// with the same pod IP, where B's node gets the same page at that IP from the same, still running, httpd; B as it was
/// after the restored sandbox is destroyed, and both namespaces deleted.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class CheckpointNetnsTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_pod_restored_into_a_second_netns_serves_its_page_at_the_same_pod_ip()
    {
        HostTools.RequireQemu();
        using var a = new CniLikePodNetwork();
        using var b = new CniLikePodNetwork();
        string beforeA = a.Snapshot();
        string beforeB = b.Snapshot();
        string checkpoint = _temp.File("checkpoint");
        string url = $"http://{CniLikePodNetwork.PodAddress}/";

        await using (var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(_temp.File("a"), "cr-net",
            vm => vm with { NetworkNamespacePath = a.PodPath, AgentChannel = QemuAgentChannel.Serial }) with
        {
            NetworkModel = NetworkModel.TcFilter,
            RootfsMode = RootfsMode.Blk,
        }))
        {
            // httpd in the foreground: the same process must answer in B, not one started after the restore.
            var spec = ContainerSpecs.Default(["httpd", "-f", "-p", "80", "-h", "/www"], terminal: false);
            await using var container = await sandbox.CreateContainerAsync("web", await RootfsAsync(), spec);
            await container.StartAsync();
            (await a.FetchFromNodeAsync(url, Limit)).Should().Be("hello from the pod\n");

            var saved = await sandbox.CheckpointAsync(checkpoint, new SandboxCheckpointOptions { LeaveRunning = false });
            output.WriteLine($"checkpoint: {saved.SizeBytes} bytes, paused {saved.Downtime.TotalSeconds:0.0} s");
        }
        a.DifferencesFrom(beforeA).Should().BeEmpty("the checkpointed pod was stopped and A restored as CNI left it");

        await using (var restored = await Sandbox.RestoreAsync(checkpoint, new SandboxRestoreOptions
        {
            StateDirectory = _temp.File("b"),
            NetworkNamespacePath = b.PodPath,
        }))
        {
            restored.Network.Should().NotBeNull();
            restored.Network!.Network.NamespacePath.Should().Be(b.PodPath);
            restored.Network.Devices.Single().Mac.Should().Be(CniLikePodNetwork.PodMac, "the guest NIC is the checkpointed one");
            CniLikePodNetwork.Ip("-n", b.PodName, "link", "show").Should().Contain("tap0_kata");
            CniLikePodNetwork.Ip("-n", a.PodName, "link", "show").Should().NotContain("tap0_kata", "nothing is wired into A again");

            (await b.FetchFromNodeAsync(url, Limit)).Should().Be("hello from the pod\n", "the restored pod serves at its pod IP inside B");

            await restored.DestroyAsync();
        }
        b.DifferencesFrom(beforeB).Should().BeEmpty("destroying the restored pod restores B");
        a.DifferencesFrom(beforeA).Should().BeEmpty();
    }

    /// <summary>A busybox rootfs with the page the container serves.</summary>
    private async Task<string> RootfsAsync()
    {
        string root = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(root, RepoPaths.Busybox);
        Directory.CreateDirectory(Path.Combine(root, "www"));
        File.WriteAllText(Path.Combine(root, "www", "index.html"), "hello from the pod\n");
        return root;
    }
}
