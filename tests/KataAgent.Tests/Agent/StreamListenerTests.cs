using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Agent.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>The agent's one accept loop: accepts, and a dispose wakes a blocked accept without closing an fd under it.</summary>
public class StreamListenerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Accepts_a_unix_connection_and_removes_its_socket_file_on_dispose()
    {
        string path = Path.Combine(_temp.Path, "listener.sock");
        var listener = StreamListener.Listen(AgentAddress.Parse($"unix://{path}"));
        var accepted = Task.Run(listener.Accept);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
        int fd = await accepted.WaitAsync(TimeSpan.FromSeconds(10));
        fd.Should().BeGreaterThan(2);
        Libc.Close(fd).Should().Be(0);
        listener.Dispose();
        File.Exists(path).Should().BeFalse();
    }

    [Fact]
    public async Task Dispose_wakes_every_blocked_accept_which_returns_minus_one()
    {
        var listener = StreamListener.Listen(AgentAddress.Parse($"unix://{Path.Combine(_temp.Path, "idle.sock")}"));
        var accepts = Enumerable.Range(0, 3).Select(_ => Task.Factory.StartNew(listener.Accept, TaskCreationOptions.LongRunning)).ToArray();
        await Task.Delay(200);
        accepts.Should().OnlyContain(t => !t.IsCompleted);
        listener.Dispose();
        (await Task.WhenAll(accepts).WaitAsync(TimeSpan.FromSeconds(10))).Should().Equal(-1, -1, -1);
        listener.Accept().Should().Be(-1, "an accept after dispose returns at once");
        listener.Dispose();
    }
}
