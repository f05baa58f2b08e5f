using FluentAssertions;
using KataAgent.Host.VhostUser;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.VhostUser;

/// <summary>What disposing the server leaves behind: nothing. Counts fds of this process, so it runs alone.</summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class VhostUserServerDisposeTests
{
    [Fact]
    public async Task Dispose_while_running_stops_the_device_and_leaves_no_fd_mapping_or_socket()
    {
        int eventFds = OpenDescriptors.Count("eventfd");
        int sockets = OpenDescriptors.Count("socket:");

        var session = new TestSession();
        session.Realize();
        session.StartDriver();
        session.Echo([1, 2, 3]).Should().Equal(1, 2, 3);
        string memfd = session.Guest.Name;
        VhostUserServerTests.CountMemfd(memfd).Should().Be(1, "the server closes a region's fd once it is mapped");
        VhostUserServerTests.CountMappings(memfd).Should().Be(3);
        OpenDescriptors.Count("eventfd").Should().BeGreaterThan(eventFds + 8, "the test's own and the server's copies");

        await session.Server.DisposeAsync();

        session.Server.Completion.IsCompletedSuccessfully.Should().BeTrue();
        session.Device.Events.Should().EndWith("stop");
        File.Exists(session.SocketPath).Should().BeFalse();
        VhostUserServerTests.CountMappings(memfd).Should().Be(1, "only the test's own mapping is left");
        session.Qemu!.WaitClosed(FakeFrontEnd.ReplyTimeout).Should().BeTrue("the connection is closed");
        await session.DisposeAsync();
        OpenDescriptors.Count("eventfd").Should().Be(eventFds, "no kick, call, err or wake eventfd is left open");
        OpenDescriptors.Count("socket:").Should().Be(sockets, "neither the listening socket nor the connection");
        VhostUserServerTests.CountMemfd(memfd).Should().Be(0);
    }

    [Fact]
    public async Task Dispose_of_an_idle_server_ends_its_completion_and_closes_everything()
    {
        int eventFds = OpenDescriptors.Count("eventfd");
        int sockets = OpenDescriptors.Count("socket:");
        using var directory = new TempDirectory();
        var server = VhostUserServer.Listen(directory.File("idle.sock"), new EchoDevice());
        File.Exists(server.SocketPath).Should().BeTrue("qemu must find the socket as soon as Listen returns");
        server.Completion.IsCompleted.Should().BeFalse();
        await server.DisposeAsync();
        await server.DisposeAsync();
        server.Completion.IsCompletedSuccessfully.Should().BeTrue();
        File.Exists(server.SocketPath).Should().BeFalse();
        OpenDescriptors.Count("eventfd").Should().Be(eventFds);
        OpenDescriptors.Count("socket:").Should().Be(sockets);
    }
}
