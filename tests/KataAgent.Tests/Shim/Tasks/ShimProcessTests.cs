using FluentAssertions;
using KataAgent.Protocols.Containerd.Types;
using KataAgent.Shim.Tasks;
using KataAgent.Shim.Tasks.Stdio;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

public sealed class ShimProcessTests
{
    private static ShimProcess NewProcess(string execId = "") =>
        new("c1", execId, StdioTarget.None, StdioTarget.None, StdioTarget.None, false, "", "", "");

    [Fact]
    public async Task Many_waiters_before_the_start_all_get_the_one_exit()
    {
        var process = NewProcess();
        var waiters = Enumerable.Range(0, 5).Select(_ => process.Exited).ToList();
        process.Status.Should().Be(Status.Created);
        process.TryMarkRunning().Should().BeTrue();
        var at = DateTimeOffset.UtcNow;

        process.TrySetExited(3, at).Should().BeTrue();
        process.TrySetExited(137, at.AddSeconds(1)).Should().BeFalse("a process exits once");

        foreach (var waiter in waiters)
        {
            (await waiter).Should().Be(new ProcessExit(3, at));
        }
        process.Status.Should().Be(Status.Stopped);
        process.ExitIfAny.Should().Be(new ProcessExit(3, at));
    }

    [Fact]
    public void A_process_starts_once_pauses_only_when_running_and_cannot_start_after_its_exit()
    {
        var process = NewProcess("e1");
        process.IsInit.Should().BeFalse();
        process.EventId.Should().Be("e1");
        process.TryMove(Status.Running, Status.Paused).Should().BeFalse();
        process.TryMarkRunning().Should().BeTrue();
        process.TryMarkRunning().Should().BeFalse();
        process.TryMove(Status.Running, Status.Paused).Should().BeTrue();
        process.Status.Should().Be(Status.Paused);
        process.TryMove(Status.Paused, Status.Running).Should().BeTrue();

        var unstarted = NewProcess();
        unstarted.TrySetExited(137, DateTimeOffset.UtcNow).Should().BeTrue();
        unstarted.TryMarkRunning().Should().BeFalse();
        unstarted.EventId.Should().Be("c1", "an init's exit event carries the container id");
    }
}
