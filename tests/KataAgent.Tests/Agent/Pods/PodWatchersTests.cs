using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Pods;
using KataAgent.Protocols.Extensions;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>The watchers of a pod: publishing never waits, a watcher that falls behind is cut off and told so, the end reaches all.</summary>
public class PodWatchersTests
{
    private static PodEvent Exit(int code) => new() { Container = new PodContainerStatus { Name = "web", State = PodContainerStatus.Types.State.Exited, ExitCode = code } };

    [Fact]
    public async Task A_watcher_that_falls_behind_is_cut_off_with_resource_exhausted_while_the_others_get_everything()
    {
        var watchers = new PodWatchers();
        var slow = watchers.Subscribe(() => [Exit(-1)]);
        var fast = watchers.Subscribe(() => [Exit(-1)]);
        var received = new List<PodEvent>();
        var reading = Task.Run(async () =>
        {
            await foreach (var e in fast.ReadAllAsync())
            {
                received.Add(e);
            }
        });

        for (int i = 0; i < PodWatchers.Capacity + 10; i++)
        {
            watchers.Publish(Exit(i));
            // The fast watcher keeps up: it is given the time to read, as a live one would be.
            while (fast.Count > PodWatchers.Capacity / 2)
            {
                await Task.Delay(1);
            }
        }
        watchers.End();
        await reading.WaitAsync(TimeSpan.FromSeconds(30));

        received.Should().HaveCount(PodWatchers.Capacity + 10 + 2, "the status first, every change, then the end");
        received.Last().KindCase.Should().Be(PodEvent.KindOneofCase.Deleted);
        received.Skip(1).Take(PodWatchers.Capacity + 10).Select(e => e.Container.ExitCode).Should().Equal(Enumerable.Range(0, PodWatchers.Capacity + 10));

        var drained = new List<PodEvent>();
        var read = async () =>
        {
            await foreach (var e in slow.ReadAllAsync())
            {
                drained.Add(e);
            }
        };
        (await read.Should().ThrowAsync<AgentException>()).Which.Kind.Should().Be(AgentErrorKind.ResourceExhausted);
        drained.Should().HaveCount(PodWatchers.Capacity, "what it had queued is still delivered before the cut");
    }

    [Fact]
    public async Task A_watcher_that_comes_after_the_end_gets_the_status_and_the_end()
    {
        var watchers = new PodWatchers();
        watchers.End();
        var late = watchers.Subscribe(() => [Exit(3)]);
        var events = new List<PodEvent>();
        await foreach (var e in late.ReadAllAsync())
        {
            events.Add(e);
        }
        events.Select(e => e.KindCase).Should().Equal(PodEvent.KindOneofCase.Container, PodEvent.KindOneofCase.Deleted);
    }
}
