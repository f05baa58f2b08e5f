using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Transport;
using KataAgent.Host.Vm;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Vsock;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Vsock;

/// <summary>
/// The agent on vsock through our vhost-user-vsock device, in a VM (TCG): Check, many connections at once, a
/// connection closed by either end, a port nobody listens on, 256 MiB of container stdout checked byte by byte,
/// and a guest-initiated connection reaching a host unix socket. One sandbox for all (<see cref="VsockSandboxFixture"/>).
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class VsockChannelTests(VsockSandboxFixture fixture, ITestOutputHelper output) : IClassFixture<VsockSandboxFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private QemuVm Vm => fixture.Sandbox.Vm;

    private static AgentClientOptions ClientOptions => new() { ConnectTimeout = TimeSpan.FromSeconds(60), RetryInterval = TimeSpan.FromMilliseconds(100) };

    [Fact]
    public async Task The_agent_answers_Check_over_vsock_through_the_hybrid_socket()
    {
        Vm.Options.AgentChannel.Should().Be(QemuAgentChannel.Vsock, "vsock is the default");
        Vm.AgentAddress.Kind.Should().Be(AgentAddressKind.HybridVsock);
        Vm.AgentAddress.Port.Should().Be(1024);
        Vm.AgentAddress.Path.Should().Be(Vm.HybridVsockSocketPath);
        File.Exists(Vm.AgentSocketPath).Should().BeFalse("a vsock VM has no serial agent socket");
        File.ReadAllText($"/proc/{Vm.ProcessId}/cmdline").Should().Contain("vhost-user-vsock-pci").And.Contain("agent.server_addr=vsock://-1:1024");

        await using var client = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions);
        (await client.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        (await fixture.Sandbox.Agent.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving, "the sandbox's own connection is still there");
    }

    [Fact]
    public async Task Ttrpc_and_gRPC_connections_share_the_vsock_port_at_once()
    {
        await using var ttrpc = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions with { Protocol = AgentProtocol.Ttrpc });
        await using var grpc = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions with { Protocol = AgentProtocol.Grpc });

        var versions = await Task.WhenAll(ttrpc.VersionAsync(), grpc.VersionAsync());

        ttrpc.Protocol.Should().Be(AgentProtocol.Ttrpc);
        versions[0].AgentVersion.Should().NotBeEmpty().And.Be(versions[1].AgentVersion, "one agent answers both, each connection sniffed by its first bytes");
    }

    [Fact]
    public async Task Sixty_four_connections_at_once_each_do_their_calls()
    {
        const int Connections = 64;
        const int CallsEach = 10;
        var clock = Stopwatch.StartNew();
        var clients = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions))).WaitAsync(Limit);
        try
        {
            var work = clients.Select(async (client, index) =>
            {
                for (int call = 0; call < CallsEach; call++)
                {
                    (await client.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
                    var details = await client.GetGuestDetailsAsync(new GuestDetailsRequest());
                    details.AgentDetails.InitDaemon.Should().BeTrue("connection {0}, call {1}", index, call);
                }
            });
            await Task.WhenAll(work).WaitAsync(Limit);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
        output.WriteLine($"{Connections} connections × {CallsEach} × 2 calls: {clock.Elapsed.TotalSeconds:0.0} s");
        (await fixture.Sandbox.Agent.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task A_connection_the_host_closes_mid_call_leaves_the_agent_and_other_connections_working()
    {
        await using var container = await fixture.Sandbox.CreateContainerAsync("hostclose", fixture.Rootfs, ContainerSpecs.Default(["sleep", "100000"], terminal: false), new ContainerOptions { AttachStdio = false });
        await container.StartAsync();
        var bystander = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions);
        await using (bystander)
        {
            var doomed = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions);
            // A long poll: the sleep does not exit, so the call is in flight in the agent when its connection goes.
            var wait = doomed.WaitProcessAsync(new WaitProcessRequest { ContainerId = container.Id });
            await Task.Delay(TimeSpan.FromSeconds(2));
            wait.IsCompleted.Should().BeFalse("the container still runs");
            await doomed.DisposeAsync();
            var ended = async () => await wait.WaitAsync(Limit);
            await ended.Should().ThrowAsync<Exception>("its connection was closed under it");

            (await bystander.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
            await using var fresh = await AgentClient.ConnectAsync(Vm.AgentAddress, ClientOptions);
            (await fresh.StatsContainerAsync(new StatsContainerRequest { ContainerId = container.Id })).Should().NotBeNull("the container survived its waiter's connection");
        }
        await container.RemoveAsync();
    }

    [Fact]
    public async Task A_connection_the_guest_closes_ends_on_the_host_and_a_port_nobody_listens_on_is_refused()
    {
        Vm.DebugConsoleAddress!.Port.Should().Be(1026);
        var connector = AgentConnectors.For(Vm.DebugConsoleAddress, new AgentClientOptions());
        await using (var console = await connector.ConnectAsync(CancellationToken.None))
        {
            // The agent's shell answers, then exits: the guest closes the connection.
            await console.WriteAsync(Encoding.ASCII.GetBytes("echo console-$((6 * 7)); exit\n"));
            await console.FlushAsync();
            string text = await ReadToEndAsync(console).WaitAsync(Limit);
            text.Should().Contain("console-42");
        }

        var nobody = AgentConnectors.For(AgentAddress.Parse($"hvsock://{Vm.HybridVsockSocketPath}:4000"), new AgentClientOptions());
        var refused = async () => await nobody.ConnectAsync(CancellationToken.None);
        (await refused.Should().ThrowAsync<IOException>()).Which.Message.Should().Contain("4000");
        (await fixture.Sandbox.Agent.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task The_agents_log_lines_come_on_vsock_port_1025_and_in_the_serial_log_file()
    {
        var connector = AgentConnectors.For(Vm.AgentLogAddress!, new AgentClientOptions());
        await using var log = await connector.ConnectAsync(CancellationToken.None);
        var lines = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            int n;
            while ((n = await log.ReadAsync(buffer)) > 0)
            {
                lock (lines)
                {
                    lines.Append(Encoding.UTF8.GetString(buffer, 0, n));
                    if (lines.ToString().Contains("logged-through-vsock"))
                    {
                        return;
                    }
                }
            }
        });
        // A container id the agent logs as it creates the container.
        await using var container = await fixture.Sandbox.CreateContainerAsync("logged-through-vsock", fixture.Rootfs, ContainerSpecs.Default(["true"], terminal: false), new ContainerOptions { AttachStdio = false });
        await reading.WaitAsync(Limit);
        await container.RemoveAsync();

        File.ReadAllText(Vm.AgentLogPath).Should().Contain("logged-through-vsock", "qemu writes the serial log port into agent.log as before");
    }

    [Fact]
    public async Task Two_hundred_fifty_six_MiB_of_container_stdout_arrive_through_the_host_library_every_byte_in_place()
    {
        const long Bytes = 256L * 1024 * 1024;
        await using var container = await fixture.Sandbox.CreateContainerAsync("pattern", fixture.Rootfs,
            ContainerSpecs.Default(["/bin/vsockprobe", "pattern", Bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], terminal: false));
        var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
        var clock = Stopwatch.StartNew();
        await container.StartAsync();

        long total = 0;
        long mismatch = -1;
        var buffer = new byte[1 << 20];
        int n;
        while ((n = await container.InitProcess.Stdout.ReadAsync(buffer).AsTask().WaitAsync(Limit)) > 0)
        {
            if (mismatch < 0)
            {
                mismatch = VsockProbe.FirstMismatch(buffer.AsSpan(0, n), total);
            }
            total += n;
        }
        double seconds = clock.Elapsed.TotalSeconds;

        (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0, await stderr);
        output.WriteLine($"{total / 1024.0 / 1024.0:0} MiB in {seconds:0.0} s: {total / 1024.0 / 1024.0 / seconds:0.0} MiB/s");
        total.Should().Be(Bytes);
        mismatch.Should().Be(-1, "every byte is where the pattern puts it");
        await container.RemoveAsync();
    }

    [Fact]
    public async Task A_guest_connection_to_CID_2_reaches_the_host_unix_socket_named_after_its_port()
    {
        const int Port = 5005;
        string path = $"{Vm.HybridVsockSocketPath}_{Port}";
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var served = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            var received = new StringBuilder();
            var buffer = new byte[256];
            while (!received.ToString().Contains('\n'))
            {
                int got = await peer.ReceiveAsync(buffer, SocketFlags.None);
                if (got == 0)
                {
                    break;
                }
                received.Append(Encoding.ASCII.GetString(buffer, 0, got));
            }
            // The reply proves the host end is a real two-way stream: it depends on what the guest sent.
            string text = received.ToString().Trim();
            await peer.SendAsync(Encoding.ASCII.GetBytes($"host got {text} ({SHA256.HashData(Encoding.ASCII.GetBytes(text))[0]:x2})\n"), SocketFlags.None);
            return text;
        });
        try
        {
            await using var container = await fixture.Sandbox.CreateContainerAsync("guestdial", fixture.Rootfs,
                ContainerSpecs.Default(["/bin/vsockprobe", "connect", $"{Port}", "hello-from-guest"], terminal: false));
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
            await container.StartAsync();

            (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0, await stderr);
            (await served.WaitAsync(Limit)).Should().Be("hello-from-guest");
            (await stdout).Should().Be($"host got hello-from-guest ({SHA256.HashData("hello-from-guest"u8)[0]:x2})\n");
            await container.RemoveAsync();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<string> ReadToEndAsync(Stream stream)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        return text.ToString();
    }
}
