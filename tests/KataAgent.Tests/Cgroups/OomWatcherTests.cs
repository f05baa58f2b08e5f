using System.Collections.Concurrent;
using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>The OOM watcher on a fake memory.events: inotify sees the test's writes as it sees the kernel's.</summary>
public sealed class OomWatcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly FakeCgroupTree _tree = new();
    private readonly BlockingCollection<string> _reports = [];

    public OomWatcherTests()
    {
        WriteEvents(oomKill: 0);
    }

    public void Dispose() => _tree.Dispose();

    private string EventsFile => _tree.LeafFile("memory.events");

    private void WriteEvents(int oomKill, int max = 0) =>
        File.WriteAllText(EventsFile, $"low 0\nhigh 0\nmax {max}\noom {oomKill}\noom_kill {oomKill}\noom_group_kill 0\n");

    private OomWatcher Watch(Action<string>? callback = null) =>
        new(EventsFile, "ctr-1", callback ?? (id => _reports.Add(id)));

    private string? NextReport(TimeSpan timeout) => _reports.TryTake(out string? id, timeout) ? id : null;

    [Fact]
    public void A_rising_oom_kill_count_is_reported_with_the_container_id()
    {
        using var watcher = Watch();
        WriteEvents(oomKill: 1);
        NextReport(Timeout).Should().Be("ctr-1");
        watcher.OomKills.Should().Be(1);

        WriteEvents(oomKill: 3);
        NextReport(Timeout).Should().Be("ctr-1");
        watcher.OomKills.Should().Be(3);
    }

    [Fact]
    public void Changes_that_do_not_raise_oom_kill_are_not_reported()
    {
        using var watcher = Watch();
        WriteEvents(oomKill: 0, max: 7);
        File.WriteAllText(EventsFile, "");
        NextReport(TimeSpan.FromMilliseconds(500)).Should().BeNull();

        WriteEvents(oomKill: 1, max: 7);
        NextReport(Timeout).Should().Be("ctr-1", "the watch is still alive after the ignored changes");
    }

    [Fact]
    public void Kills_before_the_watch_began_are_the_baseline()
    {
        WriteEvents(oomKill: 4);
        using var watcher = Watch();
        watcher.OomKills.Should().Be(4);
        WriteEvents(oomKill: 4, max: 1);
        NextReport(TimeSpan.FromMilliseconds(500)).Should().BeNull();
        WriteEvents(oomKill: 5);
        NextReport(Timeout).Should().Be("ctr-1");
    }

    [Fact]
    public void After_dispose_the_thread_has_ended_and_nothing_more_is_reported()
    {
        var watcher = Watch();
        watcher.IsRunning.Should().BeTrue();
        watcher.Dispose();
        watcher.IsRunning.Should().BeFalse();

        WriteEvents(oomKill: 9);
        NextReport(TimeSpan.FromMilliseconds(500)).Should().BeNull();
        watcher.Dispose();
    }

    [Fact]
    public void A_failing_callback_does_not_stop_the_watch()
    {
        int calls = 0;
        using var watcher = Watch(id =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("subscriber bug");
            }
            _reports.Add(id);
        });
        WriteEvents(oomKill: 1);
        SpinWait.SpinUntil(() => Volatile.Read(ref calls) == 1, Timeout).Should().BeTrue();
        WriteEvents(oomKill: 2);
        NextReport(Timeout).Should().Be("ctr-1");
    }

    [Fact]
    public void A_callback_may_dispose_its_own_watcher()
    {
        OomWatcher? watcher = null;
        using var disposed = new ManualResetEventSlim();
        watcher = Watch(_ =>
        {
            watcher!.Dispose();
            disposed.Set();
        });
        WriteEvents(oomKill: 1);
        disposed.Wait(Timeout).Should().BeTrue();
        SpinWait.SpinUntil(() => !watcher.IsRunning, Timeout).Should().BeTrue("the thread leaves once the callback returns");
    }

    [Fact]
    public void A_missing_memory_events_names_the_memory_controller()
    {
        var watch = () => new OomWatcher(_tree.LeafFile("nope/memory.events"), "ctr-1", _ => { });
        watch.Should().Throw<CgroupException>().Where(e => e.Controller == "memory" && e.Message.Contains("memory.events"));
    }
}
