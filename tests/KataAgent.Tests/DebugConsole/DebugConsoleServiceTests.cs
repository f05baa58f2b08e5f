using FluentAssertions;
using KataAgent.Agent.Config;
using KataAgent.Agent.DebugConsole;
using KataAgent.Linux.Addressing;
using KataAgent.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataAgent.Tests.DebugConsole;

/// <summary>The debug console service in process: what it opens at start, its stop closes.</summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DebugConsoleServiceTests
{
    [Fact]
    public async Task Stop_closes_the_stop_eventfd_and_the_listener()
    {
        using var directory = new TempDirectory();
        string socket = directory.File("console.sock");
        var config = new AgentConfig { DebugConsole = true, DebugConsoleAddress = AgentAddress.Parse($"unix://{socket}") };
        // No connection comes, so no shell starts and the reaper is never asked for one; a real one would make this
        // test process a subreaper and take its SIGCHLD from the other tests.
        var service = new DebugConsoleService(config, reaper: null!, NullLogger<DebugConsoleService>.Instance);
        int before = OpenDescriptors.Count("eventfd");

        await service.StartAsync(CancellationToken.None);
        File.Exists(socket).Should().BeTrue();
        OpenDescriptors.Count("eventfd").Should().Be(before + 2, "the service's stop signal and its listener's wake");
        await service.StopAsync(CancellationToken.None);

        OpenDescriptors.Count("eventfd").Should().Be(before, "stop closes both once the accepting thread has left");
        File.Exists(socket).Should().BeFalse();
    }
}
