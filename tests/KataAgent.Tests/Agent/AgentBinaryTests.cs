using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>The published Native-AOT agent, driven through the host library over a unix socket.</summary>
public class AgentBinaryTests
{
    [Fact]
    public async Task Serves_health_version_guest_details_and_metrics_then_stops_on_SIGTERM()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using (var client = await agent.ConnectAsync())
        {
            (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

            var version = await client.VersionAsync();
            version.GrpcVersion.Should().Be("0.0.1");
            version.AgentVersion.Should().MatchRegex(@"^\d+\.\d+\.\d+");

            var details = await client.GetGuestDetailsAsync(new GuestDetailsRequest { MemBlockSize = true, MemHotplugProbe = true });
            details.AgentDetails.Version.Should().Be(version.AgentVersion);
            details.AgentDetails.InitDaemon.Should().BeFalse();
            details.AgentDetails.StorageHandlers.Should().Equal("blk", "ephemeral", "local", "virtio-fs");
            details.AgentDetails.SupportsSeccomp.Should().BeTrue();
            details.AgentDetails.DeviceHandlers.Should().BeEmpty();
            string blockSizeFile = "/sys/devices/system/memory/block_size_bytes";
            ulong expectedBlockSize = File.Exists(blockSizeFile) ? Convert.ToUInt64(File.ReadAllText(blockSizeFile).Trim(), 16) : 0;
            details.MemBlockSizeBytes.Should().Be(expectedBlockSize);
            details.SupportMemHotplugProbe.Should().Be(File.Exists("/sys/devices/system/memory/probe"));

            var notAsked = await client.GetGuestDetailsAsync(new GuestDetailsRequest());
            notAsked.MemBlockSizeBytes.Should().Be(0, "the block size is only reported when asked for");

            string metrics = (await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_;
            MetricsCollectorTests.Value(metrics, "kata_agent_scrape_count").Should().Be(1);
            MetricsCollectorTests.Value(metrics, "kata_agent_total_rss").Should().BeGreaterThan(1024 * 1024);
            int pid = agent.ProcessId;
            string threads = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("Threads:"));
            MetricsCollectorTests.Value(metrics, "kata_agent_threads").Should().BeGreaterThan(1, threads);
            metrics.Should().Contain("kata_guest_meminfo{item=\"mem_total\"}");
            MetricsCollectorTests.Value((await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_, "kata_agent_scrape_count").Should().Be(2);
        }

        int exitCode = await agent.TerminateAsync(TimeSpan.FromSeconds(15));
        exitCode.Should().Be(0, agent.Output);
        agent.Output.Should().Contain("SIGTERM: stopping");
    }

    [Fact]
    public async Task Bad_requests_get_invalid_argument_naming_the_field_and_the_agent_keeps_serving()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();

        var badUsec = async () => await client.SetGuestDateTimeAsync(new SetGuestDateTimeRequest { Sec = 1, Usec = 1_000_000 });
        (await badUsec.Should().ThrowAsync<AgentStatusException>()).Which.Should().Match<AgentStatusException>(e => e.StatusCode == AgentStatusCode.InvalidArgument && e.Detail.StartsWith("Usec:"));

        var negative = async () => await client.SetGuestDateTimeAsync(new SetGuestDateTimeRequest { Sec = -1 });
        (await negative.Should().ThrowAsync<AgentStatusException>()).Which.Detail.Should().StartWith("Sec:");

        var empty = async () => await client.ReseedRandomDevAsync(new ReseedRandomDevRequest());
        (await empty.Should().ThrowAsync<AgentStatusException>()).Which.Should().Match<AgentStatusException>(e => e.StatusCode == AgentStatusCode.InvalidArgument && e.Detail.StartsWith("data:"));

        var unknownService = async () => await client.Health.CheckAsync(new CheckRequest { Service = "no.such.Service" });
        (await unknownService.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);

        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_RESOURCE_EXHAUSTED_and_the_agent_keeps_serving()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var tooBig = new ReseedRandomDevRequest { Data = ByteString.CopyFrom(new byte[5 * 1024 * 1024]) };

        var call = async () => await client.ReseedRandomDevAsync(tooBig);
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.ResourceExhausted);
        error.Detail.Should().Contain("exceeds the maximum");

        (await client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        (await client.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_agent_scrape_count");
    }

    [Fact]
    public async Task Privileged_guest_calls_act_as_root_and_are_refused_otherwise()
    {
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        bool root = Environment.UserName == "root";

        var reseed = async () => await client.ReseedRandomDevAsync(new ReseedRandomDevRequest { Data = ByteString.CopyFrom(System.Security.Cryptography.RandomNumberGenerator.GetBytes(64)) });
        // Setting the clock to what it already is (to the microsecond, give or take the call) keeps the host's time.
        var now = DateTimeOffset.UtcNow;
        var setClock = async () => await client.SetGuestDateTimeAsync(new SetGuestDateTimeRequest { Sec = now.ToUnixTimeSeconds(), Usec = now.Millisecond * 1000 + now.Microsecond });
        if (root)
        {
            await reseed.Should().NotThrowAsync();
            await setClock.Should().NotThrowAsync();
            (DateTimeOffset.UtcNow - now).Should().BeLessThan(TimeSpan.FromSeconds(5)).And.BeGreaterThan(TimeSpan.Zero);
        }
        else
        {
            (await reseed.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.PermissionDenied);
            (await setClock.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.PermissionDenied);
        }
    }

    [Fact]
    public void Every_rpc_of_grpc_AgentService_is_implemented_by_the_agent()
    {
        // A method AgentRpcService does not override falls through to the generated base class and
        // answers UNIMPLEMENTED; agent.proto's 42 must all be served.
        var service = AgentReflection.Descriptor.Services.Single(s => s.FullName == "grpc.AgentService");
        service.Methods.Should().HaveCount(42);
        var overridden = typeof(KataAgent.Agent.Server.AgentRpcService)
            .GetMethods(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.DeclaredOnly)
            .Where(m => m.GetBaseDefinition().DeclaringType == typeof(AgentService.AgentServiceBase))
            .Select(m => m.Name)
            .ToHashSet();
        service.Methods.Select(m => m.Name).Where(name => !overridden.Contains(name)).Should().BeEmpty();
    }
}
