using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Host;

/// <summary>The QMP client against an in-test QMP server: handshake, ids, errors, events apart from replies, disconnects.</summary>
public sealed class QmpClientTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string SocketPath => _temp.File("qmp.sock");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Negotiates_capabilities_and_sends_commands_with_ids_and_arguments()
    {
        await using var server = new FakeQmpServer(SocketPath, async (command, write) =>
            await write(command.GetProperty("execute").GetString() == "query-status"
                ? FakeQmpServer.Return(command, """{"status": "running", "running": true}""")
                : FakeQmpServer.Return(command)));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);

        qmp.QemuVersion.Should().Be("7.2.22");
        var status = await qmp.ExecuteAsync("query-status");
        status.GetProperty("status").GetString().Should().Be("running");
        await qmp.ExecuteAsync("device_add", new JsonObject { ["driver"] = "virtio-blk-pci", ["bus"] = "rp1", ["id"] = "a,b\"c" });

        server.Received.Should().HaveCount(3);
        var messages = server.Received.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        messages[0].GetProperty("execute").GetString().Should().Be("qmp_capabilities", "capabilities negotiation comes first");
        messages.Select(m => m.GetProperty("id").GetInt64()).Should().OnlyHaveUniqueItems();
        messages[2].GetProperty("arguments").GetProperty("id").GetString().Should().Be("a,b\"c");
        messages[1].TryGetProperty("arguments", out _).Should().BeFalse("a command without arguments sends none");
    }

    [Fact]
    public async Task An_error_reply_throws_QmpException_with_class_and_description()
    {
        await using var server = new FakeQmpServer(SocketPath, async (command, write) =>
            await write(command.GetProperty("execute").GetString() == "device_del"
                ? FakeQmpServer.Error(command, "DeviceNotFound", "Device 'nope' not found")
                : FakeQmpServer.Return(command)));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);

        var delete = async () => await qmp.ExecuteAsync("device_del", new JsonObject { ["id"] = "nope" });

        var error = (await delete.Should().ThrowAsync<QmpException>()).Which;
        error.ErrorClass.Should().Be("DeviceNotFound");
        error.Description.Should().Be("Device 'nope' not found");
        error.Command.Should().Be("device_del");
        error.Message.Should().Contain("device_del").And.Contain("DeviceNotFound").And.Contain("Device 'nope' not found");
        (await qmp.ExecuteAsync("query-status")).ValueKind.Should().Be(JsonValueKind.Object, "the connection survives an error");
    }

    [Fact]
    public async Task Events_between_a_command_and_its_reply_are_kept_apart_and_can_be_awaited_afterwards()
    {
        await using var server = new FakeQmpServer(SocketPath, async (command, write) =>
        {
            if (command.GetProperty("execute").GetString() == "device_del")
            {
                // qemu may announce the removal before it answers the command.
                await write(FakeQmpServer.Event("DEVICE_DELETED", """{"path": "/machine/peripheral/disk1/virtio-backend"}"""));
                await write(FakeQmpServer.Event("DEVICE_DELETED", """{"device": "disk1", "path": "/machine/peripheral/disk1"}"""));
            }
            await write(FakeQmpServer.Return(command));
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);
        var seen = new List<string>();
        qmp.EventReceived += e => { lock (seen) { seen.Add(e.Name); } };

        var reply = await qmp.ExecuteAsync("device_del", new JsonObject { ["id"] = "disk1" });
        var deleted = await qmp.WaitForEventAsync("DEVICE_DELETED", e => e.DataString("device") == "disk1").WaitAsync(TimeSpan.FromSeconds(10));

        reply.ValueKind.Should().Be(JsonValueKind.Object);
        reply.EnumerateObject().Should().BeEmpty("the reply is the command's, not an event");
        deleted.DataString("path").Should().Be("/machine/peripheral/disk1");
        deleted.Timestamp.Should().Be(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddTicks(50));
        seen.Should().Equal("DEVICE_DELETED", "DEVICE_DELETED");
        var backend = await qmp.WaitForEventAsync("DEVICE_DELETED").WaitAsync(TimeSpan.FromSeconds(10));
        backend.DataString("device").Should().BeNull("the unclaimed backend event is still there for the next waiter");
    }

    [Fact]
    public async Task An_event_that_arrives_later_completes_a_waiting_call()
    {
        Func<string, Task>? writer = null;
        await using var server = new FakeQmpServer(SocketPath, async (command, write) =>
        {
            writer = write;
            await write(FakeQmpServer.Return(command));
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);

        var shutdown = qmp.WaitForEventAsync("SHUTDOWN");
        shutdown.IsCompleted.Should().BeFalse();
        await writer!(FakeQmpServer.Event("RESUME"));
        await writer!(FakeQmpServer.Event("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}"""));

        var received = await shutdown.WaitAsync(TimeSpan.FromSeconds(10));
        received.DataString("reason").Should().Be("guest-shutdown");
    }

    [Fact]
    public async Task Concurrent_commands_get_their_own_replies_even_out_of_order()
    {
        var held = new TaskCompletionSource<(JsonElement Command, Func<string, Task> Write)>();
        await using var server = new FakeQmpServer(SocketPath, async (command, write) =>
        {
            string name = command.GetProperty("execute").GetString()!;
            if (name == "slow")
            {
                held.SetResult((command, write)); // answered after the next command
                return;
            }
            await write(FakeQmpServer.Return(command, $"\"{name}\""));
            if (name == "fast")
            {
                var (slow, slowWrite) = await held.Task;
                await slowWrite(FakeQmpServer.Return(slow, "\"slow\""));
            }
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);

        var slow = qmp.ExecuteAsync("slow");
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var fast = qmp.ExecuteAsync("fast");

        (await fast.WaitAsync(TimeSpan.FromSeconds(10))).GetString().Should().Be("fast");
        (await slow.WaitAsync(TimeSpan.FromSeconds(10))).GetString().Should().Be("slow");
    }

    [Fact]
    public async Task When_qemu_goes_away_pending_commands_and_event_waits_fail_with_IOException()
    {
        FakeQmpServer? self = null;
        await using var server = self = new FakeQmpServer(SocketPath, async (command, write) =>
        {
            if (command.GetProperty("execute").GetString() == "quit")
            {
                self!.Client!.Shutdown(System.Net.Sockets.SocketShutdown.Both); // no reply: qemu is gone
                return;
            }
            await write(FakeQmpServer.Return(command));
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath);
        var waiting = qmp.WaitForEventAsync("DEVICE_DELETED");

        var quit = async () => await qmp.ExecuteAsync("quit").WaitAsync(TimeSpan.FromSeconds(10));

        (await quit.Should().ThrowAsync<QmpConnectionException>()).Which.Message.Should().Contain(SocketPath);
        await qmp.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var wait = async () => await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        await wait.Should().ThrowAsync<QmpConnectionException>();
        var after = async () => await qmp.ExecuteAsync("query-status");
        (await after.Should().ThrowAsync<QmpConnectionException>()).Which.Message.Should().Contain("closed");
    }

    [Fact]
    public async Task A_socket_that_is_not_QMP_or_not_there_gives_a_clear_error()
    {
        var missing = async () => await QmpClient.ConnectAsync(_temp.File("absent.sock"), TimeSpan.FromMilliseconds(200));
        (await missing.Should().ThrowAsync<QmpConnectionException>()).Which.Message.Should().Contain("absent.sock");

        await using var server = new FakeQmpServer(SocketPath, (_, _) => Task.CompletedTask, greeting: """{"hello": 1}""");
        var wrong = async () => await QmpClient.ConnectAsync(SocketPath);
        (await wrong.Should().ThrowAsync<QmpConnectionException>()).Which.Message.Should().Contain("not a QMP greeting");
    }
}
