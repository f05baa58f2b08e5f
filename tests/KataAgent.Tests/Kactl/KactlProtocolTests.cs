using FluentAssertions;
using Grpc.Core;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Tests.Ttrpc;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>out/kactl's <c>--protocol</c> against a ttrpc-only server (as Kata's own agent is).</summary>
public sealed class KactlProtocolTests
{
    private const int Usage = 2;
    private const int ConnectFailed = 3;

    [Theory]
    [InlineData("ttrpc")]
    [InlineData("detect")]
    public async Task Commands_speak_ttrpc_to_a_ttrpc_agent(string protocol)
    {
        await using var host = new TtrpcTestServer(KataLikeServer());
        string address = "unix://" + host.SocketPath;

        var check = await KactlRunner.RunAsync(["--addr", address, "--protocol", protocol, "check"]);
        check.ExitCode.Should().Be(0, KactlRunner.Describe(check));
        check.StandardOutput.Trim().Should().Be("SERVING");

        var call = await KactlRunner.RunAsync(["call", "GetGuestDetails", "--addr", address, "--protocol", protocol]);
        call.ExitCode.Should().Be(0, KactlRunner.Describe(call));
        call.StandardOutput.Should().Contain("3.2.0-kata");

        var refused = await KactlRunner.RunAsync(["--addr", address, "--protocol", protocol, "call", "DestroySandbox"]);
        refused.ExitCode.Should().Be(1, KactlRunner.Describe(refused));
        refused.StandardError.Should().Contain("/grpc.AgentService/DestroySandbox does not exist");
    }

    [Fact]
    public async Task Grpc_against_a_ttrpc_agent_fails_to_connect()
    {
        await using var host = new TtrpcTestServer(KataLikeServer());

        var result = await KactlRunner.RunAsync(["--addr", "unix://" + host.SocketPath, "--protocol", "grpc", "--timeout", "2", "check"]);

        result.ExitCode.Should().Be(ConnectFailed, KactlRunner.Describe(result));
    }

    [Fact]
    public async Task An_unknown_protocol_is_a_usage_error()
    {
        var result = await KactlRunner.RunAsync(["--addr", "unix:///nonexistent.sock", "--protocol", "http3", "check"]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("http3").And.Contain("ttrpc");
    }

    private static TtrpcServer KataLikeServer()
    {
        var server = new TtrpcServer { UnknownMethods = TtrpcUnknownMethodStyle.Rust };
        server.AddUnaryMethod("grpc.Health", "Check", CheckRequest.Parser, (CheckRequest _, TtrpcCallContext _) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }));
        server.AddUnaryMethod("grpc.AgentService", "GetGuestDetails", GuestDetailsRequest.Parser, (GuestDetailsRequest _, TtrpcCallContext _) =>
            Task.FromResult(new GuestDetailsResponse { AgentDetails = new AgentDetails { Version = "3.2.0-kata" } }));
        return server;
    }
}
