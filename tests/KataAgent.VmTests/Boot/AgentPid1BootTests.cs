using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// The real thing: the published agent as /init of the image, booted under qemu (TCG) by the host
/// library's launcher, serving the agent API on a virtio-serial port. The agent mounts the guest's
/// filesystems, loads the image's modules, reads its configuration from the kernel command line,
/// spawns its helpers (the reaper must see their exits as PID 1, where .NET would otherwise reap
/// them itself), serves gRPC and ttrpc on the one serial channel (a container runs there over ttrpc)
/// and powers the VM off after DestroySandbox.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class AgentPid1BootTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Agent_boots_as_pid_1_answers_gRPC_and_ttrpc_over_virtio_serial_and_powers_off_after_DestroySandbox()
    {
        HostTools.RequireQemu();

        await using var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, _temp.File("vm"))) with
        {
            // This test is about the serial channel (vsock, the default, has its own in Vsock/).
            AgentChannel = QemuAgentChannel.Serial,
            KernelArguments = ["agent.log=debug", "agent.frobnicate"],
        });
        output.WriteLine($"agent answered Check {vm.BootToReady.TotalSeconds:0.0} s after qemu started");
        var details = await vm.Agent.GetGuestDetailsAsync(new GuestDetailsRequest { MemBlockSize = true });
        details.AgentDetails.InitDaemon.Should().BeTrue("the agent is PID 1 of the guest");
        (await vm.Agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_guest_meminfo{item=\"mem_total\"}");
        (await vm.Agent.VersionAsync()).AgentVersion.Should().Be(details.AgentDetails.Version);

        // The same serial channel in ttrpc, as Kata's runtime speaks it: qemu's chardev takes one host connection at
        // a time, so the gRPC one goes first; the agent sniffs each new connection afresh.
        vm.Agent.Dispose();
        await LetTheAgentReleaseThePortAsync();
        await using (var ttrpc = await ConnectTtrpcAsync(vm.AgentSocketPath))
        {
            var version = await ttrpc.CallAsync("grpc.Health", "Version", new CheckRequest(), VersionCheckResponse.Parser, Timeout);
            version.AgentVersion.Should().Be(details.AgentDetails.Version);
            var inFlight = Enumerable.Range(0, 50).Select(i => i % 2 == 0
                ? ttrpc.CallAsync("grpc.Health", "Check", new CheckRequest(), HealthCheckResponse.Parser, Timeout).ContinueWith(t => t.Result.Status.ToString(), TaskScheduler.Default)
                : ttrpc.CallAsync("grpc.AgentService", "GetGuestDetails", new GuestDetailsRequest(), GuestDetailsResponse.Parser, Timeout).ContinueWith(t => t.Result.AgentDetails.Version, TaskScheduler.Default));
            (await Task.WhenAll(inFlight)).Distinct().Should().BeEquivalentTo(["Serving", details.AgentDetails.Version]);

            await ttrpc.CallAsync("grpc.AgentService", "CreateSandbox", new CreateSandboxRequest { Hostname = "vm-pod", SandboxId = "vm", SandboxPidns = true }, Empty.Parser, Timeout);
            string output = await RunContainerOverTtrpcAsync(vm, ttrpc);
            output.Should().StartWith("hello over ttrpc from vm-pod\n").And.Contain("pause", "PID 1 of the container's PID namespace is the sandbox's pause process");
        }

        // And gRPC again on the same channel.
        await LetTheAgentReleaseThePortAsync();
        using (var grpc = await AgentClient.ConnectAsync(vm.AgentAddress.ToString(), new AgentClientOptions { ConnectTimeout = Timeout }))
        {
            (await grpc.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
            await grpc.DestroySandboxAsync(new DestroySandboxRequest());
        }

        var exited = await vm.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        string log = vm.ConsoleTail(200);
        output.WriteLine(log);
        exited.ExitCode.Should().Be(0, "the agent powers the VM off after DestroySandbox");
        log.Should().Contain("ignoring unknown kernel command-line option agent.frobnicate");
        log.Should().Contain("serving the Kata agent API on serial://agent.channel.0 (pid 1)");
        log.Should().Contain("sandbox vm created").And.Contain("powering off");
        log.Should().NotContain("Kernel panic");
        log.Should().NotContain("guest init:", "every mount and module of the image must succeed");
    }

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Waits until the agent has closed its end of the previous connection and reopened the port (it pauses at most a
    /// second). Bytes a new host connection sends before that are lost: the guest's virtio-console driver discards
    /// what is buffered on a port when the agent closes its fd (docs/AGENT.md, serial transport).
    /// </summary>
    private static Task LetTheAgentReleaseThePortAsync() => Task.Delay(TimeSpan.FromSeconds(1.5));

    private static async Task<TtrpcClient> ConnectTtrpcAsync(string chardevSocket)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(chardevSocket));
        return new TtrpcClient(new NetworkStream(socket, ownsSocket: true));
    }

    /// <summary>
    /// A busybox container whose rootfs is an ext4 disk hot-plugged into the VM, run to completion entirely over
    /// ttrpc with Kata's calls; the spec has no pid namespace, as Kata's runtime sends it, so the agent puts it in
    /// the sandbox's (CreateSandbox asked for one). Returns its stdout.
    /// </summary>
    private async Task<string> RunContainerOverTtrpcAsync(QemuVm vm, TtrpcClient ttrpc)
    {
        string image = _temp.File("rootfs.ext4");
        await Ext4Image.CreateAsync(Path.Combine(RepoPaths.Root, "out", "rootfs"), image);
        string pciPath = await vm.AddDiskAsync(new QemuDisk(image));
        const string Id = "serial-ttrpc";
        string mountPoint = $"/run/kata-containers/{Id}/rootfs";
        var spec = ContainerSpecs.Default(mountPoint, ["sh", "-c", "echo hello over ttrpc from $(hostname); tr '\\0' ' ' < /proc/1/cmdline; echo; exit 7"]);
        spec.Linux.Namespaces.Remove(spec.Linux.Namespaces.Single(n => n.Type == "pid"));
        var create = new CreateContainerRequest { ContainerId = Id, ExecId = Id, OCI = spec };
        create.Storages.Add(new Storage { Driver = "blk", Source = pciPath, Fstype = "ext4", MountPoint = mountPoint });
        await ttrpc.CallAsync("grpc.AgentService", "CreateContainer", create, Empty.Parser, Timeout);
        await ttrpc.CallAsync("grpc.AgentService", "StartContainer", new StartContainerRequest { ContainerId = Id }, Empty.Parser, Timeout);
        var wait = ttrpc.CallAsync("grpc.AgentService", "WaitProcess", new WaitProcessRequest { ContainerId = Id, ExecId = Id }, WaitProcessResponse.Parser);
        var output = new StringBuilder();
        while (true)
        {
            var chunk = await ttrpc.CallAsync("grpc.AgentService", "ReadStdout", new ReadStreamRequest { ContainerId = Id, ExecId = Id, Len = 32 * 1024 }, ReadStreamResponse.Parser, Timeout);
            if (chunk.Data.IsEmpty)
            {
                break;
            }
            output.Append(chunk.Data.ToStringUtf8());
        }
        (await wait.WaitAsync(Timeout)).Status.Should().Be(7);
        await ttrpc.CallAsync("grpc.AgentService", "RemoveContainer", new RemoveContainerRequest { ContainerId = Id, Timeout = 10 }, Empty.Parser, Timeout);
        await vm.RemoveDiskAsync(pciPath);
        return output.ToString();
    }
}
