using System.Text;
using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Busybox;
using KataAgent.Testing.Network;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// Pod networking end to end on qemu (TCG): a CNI-like pod netns (bridge in a "node" netns), a sandbox
/// wired into it with each model, a container serving HTTP with busybox httpd. From the node, the pod IP
/// (passt: the forwarded port) answers with the container's page; the container fetches a page from a
/// server in the node netns; afterwards the pod netns is as CNI left it.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class NetworkSandboxTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    [InlineData(NetworkModel.Passt)]
    public async Task The_pod_ip_serves_the_containers_page_to_the_node_and_the_container_reaches_the_node(NetworkModel model)
    {
        HostTools.RequireQemu();
        HostTools.Require("passt", "passt");
        using var pod = new CniLikePodNetwork();
        string before = pod.Snapshot();
        string nodeWww = _temp.File("node-www");
        Directory.CreateDirectory(nodeWww);
        File.WriteAllText(Path.Combine(nodeWww, "node.html"), "hello from the node\n");
        using var nodeServer = System.Diagnostics.Process.Start("ip", ["netns", "exec", pod.NodeName, RepoPaths.Busybox, "httpd", "-f", "-p", $"{CniLikePodNetwork.NodeAddress}:8000", "-h", nodeWww])!;
        int podPort = model == NetworkModel.Passt ? 8080 : 80;
        try
        {
            string state = _temp.File("sandbox-" + model);
            await using (var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(state, "net-" + model.ToString().ToLowerInvariant(),
                vm => vm with { KernelArguments = ["agent.log=debug"], NetworkNamespacePath = pod.PodPath }) with
            {
                NetworkModel = model,
                PortForwards = model == NetworkModel.Passt ? [new PortForward(8080, 80)] : [],
                Dns = [$"nameserver {CniLikePodNetwork.NodeAddress}"],
                // The check below bind-mounts the guest's own /etc/resolv.conf. With virtio-fs every bind source outside
                // /run/kata-containers is a host path (as in Kata: the runtime shares it), so that mount needs blk, where
                // sources are passed to the agent as the guest's.
                RootfsMode = RootfsMode.Blk,
            }))
            {
                output.WriteLine($"{model}: boot to ready {sandbox.BootToReady.TotalSeconds:0.0} s");
                // The container's /etc/resolv.conf is the sandbox's (the Sandbox mounts it); the guest's own, mounted
                // at /guest-resolv.conf, is too (the agent as PID 1 binds it over /etc/resolv.conf).
                var spec = ContainerSpecs.Default(["sh", "-c",
                    $"cat /etc/resolv.conf /guest-resolv.conf; httpd -p 80 -h /www && timeout 30 wget -q -O - http://{CniLikePodNetwork.NodeAddress}:8000/node.html; ping -c 1 -W 10 {CniLikePodNetwork.NodeAddress} > /tmp/ping && echo pinged; echo fetched; exec sleep 600"], terminal: false);
                spec.Mounts.Add(new Mount { Destination = "/guest-resolv.conf", Source = "/etc/resolv.conf", Type = "bind", Options = { "rbind", "ro" } });
                await using var container = await sandbox.CreateContainerAsync("web", await RootfsAsync(), spec);
                var stdout = new StringBuilder();
                var lines = ReadLinesAsync(container.InitProcess.Stdout, stdout);
                var stderr = new StringBuilder();
                _ = ReadLinesAsync(container.InitProcess.Stderr!, stderr);
                await container.StartAsync();

                await lines.WaitAsync(Limit);
                output.WriteLine($"container stderr: {stderr}");
                stdout.ToString().Should().Be($"nameserver {CniLikePodNetwork.NodeAddress}\nnameserver {CniLikePodNetwork.NodeAddress}\nhello from the node\npinged\nfetched\n",
                    "the container has the sandbox's DNS, reaches a server in the node netns, and ping works (passt: through its ping sockets)");

                string page = await pod.FetchFromNodeAsync($"http://{CniLikePodNetwork.PodAddress}:{podPort}/", Limit);
                page.Should().Be("hello from the pod\n");

                var stats = await sandbox.Agent.StatsContainerAsync(new StatsContainerRequest { ContainerId = "web" });
                stats.NetworkStats.Should().Contain(s => s.Name == "eth0" && s.RxPackets > 0 && s.TxPackets > 0, "StatsContainer counts the NIC's traffic");
                await sandbox.DestroyAsync();
            }
        }
        finally
        {
            nodeServer.Kill();
            await nodeServer.WaitForExitAsync();
        }
        pod.DifferencesFrom(before).Should().BeEmpty("destroying the sandbox restores the pod netns");
    }

    [Fact]
    public async Task A_two_vcpu_pod_gets_a_two_queue_nic_that_carries_its_traffic()
    {
        HostTools.RequireQemu();
        using var pod = new CniLikePodNetwork();
        string before = pod.Snapshot();
        string state = _temp.File("sandbox-mq");
        await using (var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(state, "net-mq", vm => vm with { Cpus = 2, NetworkNamespacePath = pod.PodPath }) with
        {
            NetworkModel = NetworkModel.TcFilter,
            NetworkQueues = 2,
            RootfsMode = RootfsMode.Blk,
        }))
        {
            // The tap in the pod netns is multi-queue with a descriptor per queue, and the guest's virtio-net uses both pairs.
            string tap = CniLikePodNetwork.Ip("-n", pod.PodName, "-details", "link", "show", "tap0_kata");
            output.WriteLine(tap);
            tap.Should().Contain("multi_queue").And.Contain("numqueues 2");
            var spec = ContainerSpecs.Default(["sh", "-c", "ls /sys/class/net/eth0/queues | tr '\n' ' '; echo; httpd -p 80 -h /www; echo fetched; exec sleep 600"], terminal: false);
            await using var container = await sandbox.CreateContainerAsync("web", await RootfsAsync(), spec);
            var stdout = new StringBuilder();
            var lines = ReadLinesAsync(container.InitProcess.Stdout, stdout);
            await container.StartAsync();
            await lines.WaitAsync(Limit);

            stdout.ToString().Should().StartWith("rx-0 rx-1 tx-0 tx-1 \n", "the guest's driver enables a queue pair per vCPU");
            (await pod.FetchFromNodeAsync($"http://{CniLikePodNetwork.PodAddress}/", Limit)).Should().Be("hello from the pod\n");
            await sandbox.DestroyAsync();
        }
        pod.DifferencesFrom(before).Should().BeEmpty("destroying the sandbox restores the pod netns");
    }

    /// <summary>Reads stdout until the container says it fetched the node's page.</summary>
    private static async Task ReadLinesAsync(Stream stream, StringBuilder text)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            text.Append(line).Append('\n');
            if (line == "fetched")
            {
                return;
            }
        }
    }

    /// <summary>The shared busybox rootfs (every applet: httpd, wget, ping among them) with the page the container serves.</summary>
    private async Task<string> RootfsAsync()
    {
        string root = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(root, RepoPaths.Busybox);
        Directory.CreateDirectory(Path.Combine(root, "www"));
        File.WriteAllText(Path.Combine(root, "www", "index.html"), "hello from the pod\n");
        return root;
    }
}
