using FluentAssertions;
using Grpc.Core;
using KataAgent.Agent.Logging;
using KataAgent.Host;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Logging;

/// <summary>The log channel: agent.log.0 (a <see cref="FakeVirtioSerialPort"/> here) and log_vport readers (a unix socket here).</summary>
public class LogChannelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_agent_copies_its_log_lines_to_the_log_port_and_to_connected_readers()
    {
        using var portDirectory = new TempDirectory();
        await using var port = new FakeVirtioSerialPort(portDirectory);
        using var directory = new TempDirectory();
        string listen = directory.File("log.sock");
        string api = $"unix://{directory.File("agent.sock")}";
        await using var agent = AgentProcess.Start(api, ["--server-addr", api, "--log", "debug", "--log-port", $"serial://{port.DevicePath}", "--log-listen", $"unix://{listen}"]);
        await using var client = await agent.ConnectAsync();

        // Lines written while no host was connected wait in the port, as qemu's file chardev would have taken them.
        await using var portReader = await TextSocketSession.ConnectAsync(port.ChardevSocketPath, Wait);
        await portReader.WaitForAsync(@"^\d\d:\d\d:\d\d\.\d{3} info: kata-agent\[0\] kata-agent .* serving the Kata agent API on " + System.Text.RegularExpressions.Regex.Escape(api), Wait);

        await using var socketReader = await TextSocketSession.ConnectAsync(listen, Wait);
        // The listener sends what is logged after the reader connected: keep logging until a line arrives.
        var bad = async () => await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = "no/such id" });
        for (int i = 0; i < 50 && !socketReader.Received.Contains("container_id"); i++)
        {
            (await bad.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
            await Task.Delay(100);
        }
        await socketReader.WaitForAsync(@"^.* dbug: .*CreateContainer: InvalidArgument container_id.*$", Wait);
        await portReader.WaitForAsync(@"CreateContainer: InvalidArgument container_id", Wait);
    }

    [Fact]
    public async Task A_port_nobody_reads_never_blocks_logging_lines_are_dropped_and_counted()
    {
        using var portDirectory = new TempDirectory();
        await using var port = new FakeVirtioSerialPort(portDirectory);
        using var channel = new LogChannel(AgentAddress.Parse($"serial://{port.DevicePath}"), listenAddress: null);
        string line = new('x', 200);

        // No host end ever reads: the pty fills after a few KiB; 20 000 lines are 4 MB.
        for (int i = 0; i < 20_000; i++)
        {
            channel.Write(line);
        }

        // The writer thread drops what the port cannot take; the writes above returned regardless.
        await WaitForDropsAsync(channel);
        channel.Dropped.Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task A_reader_that_does_not_read_never_blocks_logging_and_others_still_get_lines()
    {
        using var directory = new TempDirectory();
        string listen = directory.File("log.sock");
        using var channel = new LogChannel(portAddress: null, AgentAddress.Parse($"unix://{listen}"));
        channel.ListenProblem.Should().BeNull();
        using var stuck = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        stuck.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(listen));
        await using var reader = await TextSocketSession.ConnectAsync(listen, Wait);

        string line = new('y', 200);
        for (int i = 0; i < 20_000; i++)
        {
            channel.Write(line);
        }
        await WaitForDropsAsync(channel);
        channel.Dropped.Should().BeGreaterThan(0, "the stuck reader's socket buffer is far smaller than 4 MB");
        for (int i = 0; i < 100 && !reader.Received.Contains("after-the-flood"); i++)
        {
            channel.Write("after-the-flood");
            await Task.Delay(50);
        }
        await reader.WaitForAsync("after-the-flood", Wait);
    }

    private static async Task WaitForDropsAsync(LogChannel channel)
    {
        for (int i = 0; i < 400 && channel.Dropped == 0; i++)
        {
            await Task.Delay(50);
        }
    }
}
