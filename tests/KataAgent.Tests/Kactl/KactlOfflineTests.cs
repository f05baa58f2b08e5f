using System.Diagnostics;
using FluentAssertions;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>out/kactl where no agent answers: usage errors, address errors, connect failures.</summary>
public sealed class KactlOfflineTests
{
    private const int Usage = 2;
    private const int ConnectFailed = 3;

    [Fact]
    public async Task Rpcs_lists_every_AgentService_method_with_its_types()
    {
        var result = await KactlRunner.RunAsync(["rpcs"]);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var methods = AgentReflection.Descriptor.Services.Single(s => s.Name == "AgentService").Methods;
        lines.Should().HaveCount(methods.Count + 2, "every AgentService RPC plus Health.Check and Health.Version");
        foreach (var method in methods)
        {
            lines.Should().Contain(line => line.StartsWith(method.Name + " ")
                && line.Contains($"{method.InputType.FullName} -> {method.OutputType.FullName}"), method.Name);
        }
        lines.Should().Contain(line => line.StartsWith("Health.Check ") && line.Contains("grpc.CheckRequest -> grpc.HealthCheckResponse"));
    }

    [Fact]
    public async Task Malformed_address_exits_2_with_the_parser_message()
    {
        var stopwatch = Stopwatch.StartNew();
        var result = await KactlRunner.RunAsync(["--addr", "vsock://x:y", "check"]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("vsock://x:y").And.Contain("CID");
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "a malformed address is not retried");
    }

    [Fact]
    public async Task Missing_address_exits_2()
    {
        var result = await KactlRunner.RunAsync(["check"]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("--addr").And.Contain("KATA_AGENT_ADDR");
    }

    [Fact]
    public async Task Unreachable_socket_exits_3_within_the_timeout_and_names_the_address()
    {
        using var directory = new TempDirectory();
        string address = $"unix://{directory.File("nobody.sock")}";
        var stopwatch = Stopwatch.StartNew();

        var result = await KactlRunner.RunAsync(["--addr", address, "--timeout", "1", "call", "GetGuestDetails"]);

        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(8));
        result.ExitCode.Should().Be(ConnectFailed, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().StartWith("kactl: ").And.Contain(address);
    }

    [Fact]
    public async Task Unknown_rpc_is_reported_before_connecting()
    {
        var stopwatch = Stopwatch.StartNew();
        var result = await KactlRunner.RunAsync(["--addr", "unix:///nonexistent/agent.sock", "--timeout", "30", "call", "Bogus"]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("Bogus").And.Contain("GetGuestDetails");
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "no connection is attempted");
    }

    [Theory]
    [InlineData("--no-such-option")]
    [InlineData("frobnicate")]
    public async Task Unknown_arguments_exit_2(string argument)
    {
        var result = await KactlRunner.RunAsync([argument]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain(argument);
    }
}
