using System.Text.Json;
using FluentAssertions;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>out/kactl against a real out/kata-agent on a unix socket.</summary>
public sealed class KactlAgentTests(KactlAgentFixture fixture) : IClassFixture<KactlAgentFixture>
{
    private const int RpcFailed = 1;
    private const int Usage = 2;

    private Task<CliWrap.Buffered.BufferedCommandResult> Kactl(params string[] arguments) =>
        KactlRunner.RunAsync(["--addr", fixture.Address, .. arguments]);

    [Fact]
    public async Task Check_prints_SERVING_and_exits_0()
    {
        var result = await Kactl("check");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Trim().Should().Be("SERVING");
        result.StandardError.Should().BeEmpty();
    }

    [Fact]
    public async Task Check_reads_the_address_from_KATA_AGENT_ADDR()
    {
        var result = await KactlRunner.RunAsync(["check"], addressVariable: fixture.Address);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Trim().Should().Be("SERVING");
    }

    [Fact]
    public async Task Version_prints_the_versions_the_host_library_sees()
    {
        fixture.AgentVersion.Should().NotBeNullOrEmpty();

        var result = await Kactl("version");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Should().Contain($"agent version: {fixture.AgentVersion}");
        lines.Should().Contain(line => line.StartsWith("api version:") && line.EndsWith(" " + fixture.ApiVersion));
    }

    [Fact]
    public async Task Call_GetGuestDetails_prints_protobuf_json_with_the_agent_version()
    {
        var result = await Kactl("call", "GetGuestDetails", "--json", """{"memBlockSize":true,"memHotplugProbe":true}""");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        using var json = JsonDocument.Parse(result.StandardOutput);
        json.RootElement.GetProperty("agentDetails").GetProperty("version").GetString().Should().Be(fixture.AgentVersion);
        // Default values are printed too: the field exists even when the guest reports no hotplug probe.
        json.RootElement.TryGetProperty("supportMemHotplugProbe", out _).Should().BeTrue(result.StandardOutput);
    }

    [Fact]
    public async Task Call_GetGuestDetails_returns_what_the_host_library_gets()
    {
        await using var client = await fixture.Agent.ConnectAsync();
        var expected = await client.GetGuestDetailsAsync(new GuestDetailsRequest { MemBlockSize = true });

        var result = await Kactl("call", "GetGuestDetails", "-j", """{"memBlockSize":true}""");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        var actual = GuestDetailsResponse.Parser.ParseJson(result.StandardOutput);
        actual.Should().Be(expected);
    }

    [Fact]
    public async Task Call_GetMetrics_prints_the_prometheus_text()
    {
        var result = await Kactl("call", "GetMetrics");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        using var json = JsonDocument.Parse(result.StandardOutput);
        json.RootElement.GetProperty("metrics").GetString().Should().Contain("kata_agent_scrape_count");
    }

    [Fact]
    public async Task Call_with_an_empty_response_prints_empty_object()
    {
        var result = await Kactl("call", "ReseedRandomDev", "--json", """{"data":"AAECAwQFBgc="}""");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Trim().Should().Be("{}");
    }

    [Fact]
    public async Task Call_Health_Check_by_name()
    {
        var result = await Kactl("call", "Health.Check");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        using var json = JsonDocument.Parse(result.StandardOutput);
        json.RootElement.GetProperty("status").GetString().Should().Be("SERVING");
    }

    [Fact]
    public async Task Call_reads_the_request_from_a_file()
    {
        using var directory = new TempDirectory();
        string good = directory.File("request.json");
        await File.WriteAllTextAsync(good, """{ "memBlockSize": true, "memHotplugProbe": true }""");
        string bad = directory.File("bad.json");
        await File.WriteAllTextAsync(bad, """{ "fromTheFile": 1 }""");

        var result = await Kactl("call", "GetGuestDetails", "--file", good);
        var badResult = await Kactl("call", "GetGuestDetails", "--file", bad);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        using var json = JsonDocument.Parse(result.StandardOutput);
        json.RootElement.GetProperty("agentDetails").GetProperty("version").GetString().Should().Be(fixture.AgentVersion);
        // The file's content is what is parsed: an unknown field in it is reported.
        badResult.ExitCode.Should().Be(Usage, KactlRunner.Describe(badResult));
        badResult.StandardError.Should().Contain("fromTheFile");
    }

    [Fact]
    public async Task Call_reads_the_request_from_stdin_with_file_dash()
    {
        var result = await KactlRunner.RunAsync(["--addr", fixture.Address, "call", "GetGuestDetails", "--file", "-"], standardInput: """{"memBlockSize":true}""");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("agentDetails").GetProperty("version").GetString()
            .Should().Be(fixture.AgentVersion);
    }

    [Fact]
    public async Task Unknown_rpc_exits_2_and_lists_the_valid_names()
    {
        var result = await Kactl("call", "NoSuchRpc");

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().Contain("NoSuchRpc").And.Contain("CreateContainer").And.Contain("GetGuestDetails").And.Contain("Health.Check");
        result.StandardError.Trim().Should().NotContain("\n", "the error is one line");
    }

    [Fact]
    public async Task Malformed_json_exits_2_and_names_the_problem()
    {
        var result = await Kactl("call", "GetGuestDetails", "--json", """{"memBlockSize":""");

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("GetGuestDetails").And.Contain("grpc.GuestDetailsRequest").And.Contain("end of document");
    }

    [Theory]
    [InlineData("""{"memBlockSize":"yes"}""", "Bool")]
    [InlineData("""{"memBlockSize":17}""", "Bool")]
    [InlineData("""{"noSuchField":true}""", "noSuchField")]
    [InlineData("""[]""", "Expected an object")]
    [InlineData("""{"memBlockSize":true} trailing""", "Unexpected character")]
    public async Task Json_that_does_not_fit_the_request_type_exits_2(string json, string named)
    {
        var result = await Kactl("call", "GetGuestDetails", "--json", json);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: invalid JSON for GetGuestDetails request").And.Contain(named);
    }

    [Fact]
    public async Task Failed_rpc_reports_the_grpc_status_and_detail()
    {
        var result = await Kactl("call", "StartContainer", "--json", """{"containerId":"x"}""");

        result.ExitCode.Should().Be(RpcFailed, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().StartWith("kactl: StartContainer failed: NotFound (5): container_id: no container 'x'");
        result.StandardError.Trim().Should().NotContain("\n", "the error is one line");
    }

    [Fact]
    public async Task Json_and_file_together_exit_2()
    {
        var result = await Kactl("call", "GetGuestDetails", "--json", "{}", "--file", "/nonexistent.json");

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("--json").And.Contain("--file");
    }
}
