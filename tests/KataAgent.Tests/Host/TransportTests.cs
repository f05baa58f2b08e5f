using System.Diagnostics;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Transport.HybridVsock;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>Every address form this machine can exercise, end to end against out/kata-agent.</summary>
public class TransportTests
{
    private static readonly AgentClientOptions Quick = new() { ConnectTimeout = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Tcp_loopback()
    {
        string address = $"tcp://127.0.0.1:{FreePort.Next()}";
        await using var agent = AgentProcess.Start(address, ["--server-addr", address]);
        await using var client = await agent.ConnectAsync();
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        client.Address.Should().Be(address);
    }

    [Fact]
    public async Task Abstract_unix_socket()
    {
        string address = $"unix://@kata-agent-test-{Guid.NewGuid():N}";
        await using var agent = AgentProcess.Start(address, ["--server-addr", address]);
        await using var client = await agent.ConnectAsync();
        (await client.VersionAsync()).GrpcVersion.Should().Be("0.0.1");
    }

    [Fact]
    public async Task Address_from_the_environment_variable()
    {
        using var directory = new TempDirectory();
        string address = $"unix://{directory.File("env.sock")}";
        await using var agent = AgentProcess.Start(address, [], new Dictionary<string, string?> { ["KATA_AGENT_SERVER_ADDR"] = address });
        await using var client = await agent.ConnectAsync();
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Hybrid_vsock_through_a_CONNECT_OK_proxy()
    {
        using var directory = new TempDirectory();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var proxy = new HybridVsockProxy(directory.File("vm.sock"), agent.Address["unix://".Length..], HybridVsockProxy.Behaviour.Accept);
        await using var client = await AgentClient.ConnectAsync($"hvsock://{proxy.Path}:1024", Quick);
        (await client.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.Version.Should().NotBeEmpty();
        proxy.Requests.Should().Contain("CONNECT 1024");
    }

    [Theory]
    [InlineData(HybridVsockProxy.Behaviour.Refuse, "closed the connection without a reply")]
    [InlineData(HybridVsockProxy.Behaviour.Garbage, "unexpected reply 'HELLO THERE'")]
    [InlineData(HybridVsockProxy.Behaviour.Silent, "no reply to CONNECT within 300 ms")]
    public async Task Hybrid_vsock_handshake_failures_are_clear_errors_within_the_timeout(HybridVsockProxy.Behaviour behaviour, string reason)
    {
        using var directory = new TempDirectory();
        await using var proxy = new HybridVsockProxy(directory.File("vm.sock"), "/nonexistent", behaviour);
        var options = new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(2), HybridVsockHandshakeTimeout = TimeSpan.FromMilliseconds(300) };
        var clock = Stopwatch.StartNew();

        var connect = async () => await AgentClient.ConnectAsync($"hvsock://{proxy.Path}:1024", options);

        var error = (await connect.Should().ThrowAsync<AgentConnectException>()).Which;
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(6));
        error.Address.Should().Be($"hvsock://{proxy.Path}:1024");
        error.Message.Should().Contain(reason).And.Contain($"hvsock://{proxy.Path}:1024");
        error.InnerException.Should().BeOfType<HybridVsockException>();
        error.Attempts.Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task Serial_port_serves_one_connection_at_a_time_and_takes_the_next_after_reconnect()
    {
        using var directory = new TempDirectory();
        await using var port = new FakeVirtioSerialPort(directory);
        string guestAddress = $"serial://{port.DevicePath}";
        string hostAddress = $"serial://{port.ChardevSocketPath}";
        await using var agent = AgentProcess.Start(hostAddress, ["--server-addr", guestAddress, "--log", "debug"]);

        await using (var first = await agent.ConnectAsync())
        {
            (await first.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
            (await first.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_agent_scrape_count 1");
        }

        // The host went away and comes back (e.g. a restarted runtime shim): same agent, new connection.
        await using (var second = await agent.ConnectAsync())
        {
            (await second.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_agent_scrape_count 2");
        }
        port.Connections.Should().BeGreaterThanOrEqualTo(2);
        (await agent.WaitForOutputAsync("ended; waiting for the host to connect again")).Should().Contain("ended; waiting for the host to connect again");
    }

    [Fact]
    public async Task Vsock_where_the_kernel_has_no_transport_is_a_clear_error()
    {
        var options = new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(2) };
        var connect = async () => await AgentClient.ConnectAsync("vsock://3:1024", options);
        var error = (await connect.Should().ThrowAsync<AgentConnectException>()).Which;
        error.Message.Should().Contain("vsock://3:1024");
        error.InnerException.Should().BeOfType<LinuxException>().Which.Message.Should().Contain("connect vsock://3:1024");
    }

    [Fact]
    public async Task Agent_that_cannot_bind_its_vsock_address_exits_with_the_reason()
    {
        await using var agent = AgentProcess.Start("vsock://12345:1024", ["--server-addr", "vsock://12345:1024"]);
        int exitCode = await agent.WaitForExitAsync(TimeSpan.FromSeconds(20));
        exitCode.Should().Be(1);
        agent.Output.Should().Contain("cannot serve on vsock://12345:1024").And.Contain("bind vsock://12345:1024");
    }

    [Theory]
    [InlineData("--server-addr=nonsense", "invalid agent address 'nonsense'")]
    [InlineData("--server-addr=tcp://192.0.2.1:80", "not a loopback address")]
    [InlineData("--bogus", "unknown argument '--bogus'")]
    public async Task Agent_with_a_bad_command_line_exits_2_and_says_why(string argument, string message)
    {
        await using var agent = AgentProcess.Start("unix:///nonexistent", [argument]);
        (await agent.WaitForExitAsync(TimeSpan.FromSeconds(20))).Should().Be(2);
        agent.Output.Should().Contain(message);
    }

    [Fact]
    public async Task Second_agent_on_a_live_socket_refuses_instead_of_stealing_it()
    {
        await using var first = AgentProcess.StartOnUnixSocket();
        await using var client = await first.ConnectAsync();
        await using var second = AgentProcess.Start(first.Address, ["--server-addr", first.Address]);
        (await second.WaitForExitAsync(TimeSpan.FromSeconds(20))).Should().Be(2);
        second.Output.Should().Contain("another process is serving on this socket");
        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Nothing_listening_is_reported_with_address_attempts_and_time()
    {
        using var directory = new TempDirectory();
        string address = $"unix://{directory.File("nobody.sock")}";
        var connect = async () => await AgentClient.ConnectAsync(address, new AgentClientOptions { ConnectTimeout = TimeSpan.FromMilliseconds(500) });
        var error = (await connect.Should().ThrowAsync<AgentConnectException>()).Which;
        error.Message.Should().MatchRegex($"could not reach the agent at {System.Text.RegularExpressions.Regex.Escape(address)}: \\d+ attempts over \\d+ ms; last error: .+");
        error.Attempts.Should().BeGreaterThan(1);
    }

    [Theory]
    [InlineData("serial://agent.channel.0", typeof(ArgumentException))]
    [InlineData("nonsense", typeof(FormatException))]
    public async Task Addresses_that_cannot_work_from_the_host_fail_at_once(string address, Type exception)
    {
        var connect = async () => await AgentClient.ConnectAsync(address);
        (await connect.Should().ThrowAsync<Exception>()).Which.Should().BeOfType(exception);
    }
}
