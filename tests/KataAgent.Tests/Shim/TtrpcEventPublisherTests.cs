using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Shim.Events;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>
/// The shim's event publisher against a stand-in for containerd's ttrpc events service: every event arrives, in
/// order, in an envelope containerd accepts, across a burst, a dropped connection and refused calls.
/// </summary>
public sealed class TtrpcEventPublisherTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TtrpcEventPublisherOptions FastRetries = new()
    {
        RetryDelay = TimeSpan.FromMilliseconds(20),
        ForwardTimeout = TimeSpan.FromSeconds(5),
        FlushTimeout = TimeSpan.FromSeconds(10),
    };

    private readonly TempDirectory _directory = new();
    private FakeContainerdEvents _containerd = null!;

    public Task InitializeAsync()
    {
        _containerd = new FakeContainerdEvents(_directory.File("containerd.sock.ttrpc"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _containerd.DisposeAsync();
        _directory.Dispose();
    }

    private static TaskExit Exit(int n) => new() { ContainerId = "c1", Id = $"exec{n}", Pid = (uint)n, ExitStatus = (uint)(n % 256) };

    [Fact]
    public async Task A_burst_arrives_complete_and_in_order()
    {
        const int count = 2000;
        await using (var publisher = new TtrpcEventPublisher("unix://" + _containerd.Path, "ns1", FastRetries))
        {
            var before = DateTime.UtcNow;
            for (int i = 0; i < count; i++)
                publisher.Publish(Exit(i));
            await _containerd.WaitForAsync(count, Patience);
            publisher.Forwarded.Should().Be(count);

            var received = _containerd.Received;
            received.Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value).Id)
                .Should().Equal(Enumerable.Range(0, count).Select(i => $"exec{i}"));
            received.Should().AllSatisfy(r =>
            {
                r.Envelope.Namespace.Should().Be("ns1");
                r.Envelope.Topic.Should().Be("/tasks/exit");
                r.Envelope.Event.TypeUrl.Should().Be("containerd.events.TaskExit", "containerd 1.6 resolves the bare name only");
                r.Envelope.Timestamp.ToDateTime().Should().BeOnOrAfter(before.AddSeconds(-1)).And.BeOnOrBefore(DateTime.UtcNow.AddSeconds(1));
                r.Metadata.Should().Contain(KeyValuePair.Create("containerd-namespace-ttrpc", "ns1"));
            });
            received.Select(r => r.Envelope.Timestamp.ToDateTime()).Should().BeInAscendingOrder();
        }
        _containerd.ConnectionCount.Should().Be(1, "one connection serves every event");
    }

    [Fact]
    public async Task Each_task_event_goes_under_its_topic()
    {
        await using var publisher = new TtrpcEventPublisher(_containerd.Path, "k8s.io", FastRetries);
        Google.Protobuf.IMessage[] events =
        [
            new TaskCreate { ContainerId = "c1", Bundle = "/b", Pid = 7 },
            new TaskStart { ContainerId = "c1", Pid = 7 },
            new TaskExecAdded { ContainerId = "c1", ExecId = "e1" },
            new TaskExecStarted { ContainerId = "c1", ExecId = "e1", Pid = 8 },
            new TaskOOM { ContainerId = "c1" },
            new TaskPaused { ContainerId = "c1" },
            new TaskResumed { ContainerId = "c1" },
            new TaskExit { ContainerId = "c1", Id = "c1", Pid = 7, ExitStatus = 137, ExitedAt = Timestamp.FromDateTime(DateTime.UtcNow) },
            new TaskDelete { ContainerId = "c1", Id = "c1", Pid = 7, ExitStatus = 137 },
        ];
        foreach (var e in events)
            publisher.Publish(e);

        await _containerd.WaitForAsync(events.Length, Patience);

        _containerd.Received.Select(r => (r.Envelope.Topic, r.Envelope.Event.TypeUrl)).Should().Equal(
            ("/tasks/create", "containerd.events.TaskCreate"),
            ("/tasks/start", "containerd.events.TaskStart"),
            ("/tasks/exec-added", "containerd.events.TaskExecAdded"),
            ("/tasks/exec-started", "containerd.events.TaskExecStarted"),
            ("/tasks/oom", "containerd.events.TaskOOM"),
            ("/tasks/paused", "containerd.events.TaskPaused"),
            ("/tasks/resumed", "containerd.events.TaskResumed"),
            ("/tasks/exit", "containerd.events.TaskExit"),
            ("/tasks/delete", "containerd.events.TaskDelete"));
        _containerd.Received.Select(r => r.Envelope.Event.Value).Should().Equal(events.Select(e => e.ToByteString()));
    }

    [Fact]
    public async Task A_dropped_connection_is_redialled_and_nothing_is_lost()
    {
        await using var publisher = new TtrpcEventPublisher(_containerd.Path, "ns1", FastRetries);
        for (int i = 0; i < 100; i++)
            publisher.Publish(Exit(i));
        await _containerd.WaitForAsync(100, Patience);

        _containerd.DropConnections();
        for (int i = 100; i < 300; i++)
            publisher.Publish(Exit(i));
        await _containerd.WaitForAsync(300, Patience);

        _containerd.Received.Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value).Id)
            .Should().Equal(Enumerable.Range(0, 300).Select(i => $"exec{i}"));
        _containerd.ConnectionCount.Should().Be(2);
    }

    [Fact]
    public async Task A_refused_event_is_retried_in_place()
    {
        // The first two tries of the first event fail: it is retried before anything after it is sent.
        _containerd.Decide = (attempt, _) => attempt <= 2 ? new Grpc.Core.Status(StatusCode.Unavailable, "busy") : null;
        await using var publisher = new TtrpcEventPublisher(_containerd.Path, "ns1", FastRetries);
        for (int i = 0; i < 10; i++)
            publisher.Publish(Exit(i));

        await _containerd.WaitForAsync(10, Patience);

        _containerd.Attempts.Should().Be(12);
        _containerd.Received.Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value).Id)
            .Should().Equal(Enumerable.Range(0, 10).Select(i => $"exec{i}"));
        publisher.Dropped.Should().Be(0);
    }

    [Fact]
    public async Task An_event_refused_six_times_is_given_up_and_the_next_goes_on()
    {
        _containerd.Decide = (_, envelope) =>
            TaskExit.Parser.ParseFrom(envelope.Event.Value).Id == "exec0" ? new Grpc.Core.Status(StatusCode.Internal, "no") : null;
        await using var publisher = new TtrpcEventPublisher(_containerd.Path, "ns1", FastRetries);
        publisher.Publish(Exit(0));
        publisher.Publish(Exit(1));

        await _containerd.WaitForAsync(1, Patience);

        _containerd.Attempts.Should().Be(1 + 5 + 1, "the first try and containerd's 5 retries, then the next event");
        publisher.Dropped.Should().Be(1);
        _containerd.Received.Single().Envelope.Event.Value.Should().Equal(Exit(1).ToByteString());
    }

    [Fact]
    public async Task Events_wait_for_containerd_to_listen()
    {
        string late = _directory.File("late.sock");
        await using var publisher = new TtrpcEventPublisher(late, "ns1", FastRetries with { RetryDelay = TimeSpan.FromMilliseconds(100) });
        publisher.Publish(Exit(0));
        publisher.Publish(Exit(1));
        await Task.Delay(150);

        await using var containerd = new FakeContainerdEvents(late);
        await containerd.WaitForAsync(2, Patience);

        containerd.Received.Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value).Id).Should().Equal("exec0", "exec1");
        publisher.Dropped.Should().Be(0);
    }

    [Fact]
    public async Task Dispose_forwards_what_is_queued()
    {
        var publisher = new TtrpcEventPublisher(_containerd.Path, "ns1", FastRetries);
        for (int i = 0; i < 500; i++)
            publisher.Publish(Exit(i));

        await publisher.DisposeAsync();

        _containerd.Received.Should().HaveCount(500);
        publisher.Forwarded.Should().Be(500);
    }

    [Fact]
    public void Envelopes_carry_a_non_zero_timestamp_and_the_bare_type_url()
    {
        var now = new DateTime(2026, 12, 5, 17, 0, 0, DateTimeKind.Utc);

        var envelope = EventEnvelopes.Wrap(new TaskStart { ContainerId = "c1", Pid = 3 }, "default", now);

        envelope.Timestamp.Should().Be(Timestamp.FromDateTime(now));
        envelope.Timestamp.Seconds.Should().NotBe(0);
        envelope.Namespace.Should().Be("default");
        envelope.Topic.Should().Be("/tasks/start");
        envelope.Event.TypeUrl.Should().Be("containerd.events.TaskStart");
        TaskStart.Parser.ParseFrom(envelope.Event.Value).Pid.Should().Be(3);
    }
}
