using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Interop;
using Xunit;

namespace KataAgent.Tests.Shim;

/// <summary>The same-user check of the daemon's ttrpc server reads the peer as the kernel recorded it.</summary>
public sealed class PeerCredentialsTests
{
    [Fact]
    public async Task A_peer_of_this_user_and_group_is_let_in()
    {
        using var directory = new TempDirectory();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(directory.File("s")));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(directory.File("s")));
        using var accepted = await listener.AcceptAsync();

        var peer = PeerCredentials.Of(accepted);

        peer.Pid.Should().Be(Environment.ProcessId);
        peer.Uid.Should().Be(ShimLibc.GetEuid());
        peer.Gid.Should().Be(ShimLibc.GetEgid());
        PeerCredentials.Refusal(accepted).Should().BeNull();
    }

    [Fact]
    public void A_socket_that_is_not_unix_has_no_peer_credentials()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        var act = () => PeerCredentials.Of(socket);

        act.Should().Throw<ShimInteropException>().WithMessage("getsockopt(SO_PEERCRED): *");
    }
}
