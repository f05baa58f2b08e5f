using System.Net.Sockets;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Interop;
using Xunit;
using KataAgent.Linux.Interop;

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
        peer.Uid.Should().Be(Libc.GetEuid());
        peer.Gid.Should().Be(ShimLibc.GetEgid());
        PeerCredentials.Refusal(accepted).Should().BeNull();
    }

    [Fact]
    public async Task A_peer_of_another_user_is_refused()
    {
        using var directory = new TempDirectory();
        File.SetUnixFileMode(directory.Path, (UnixFileMode)0x1ff);
        string path = directory.File("s");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, (UnixFileMode)0x1ff);
        listener.Listen(1);
        // nobody:nogroup connects and holds the connection open until we close it.
        var peer = CliWrap.Cli.Wrap("setpriv")
            .WithArguments(["--reuid", "65534", "--regid", "65534", "--clear-groups", RepoPaths.Require("/usr/bin/python3"), "-c",
                $"import socket,time; s=socket.socket(socket.AF_UNIX); s.connect('{path}'); s.recv(1)"])
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteBufferedAsync();
        var acceptance = listener.AcceptAsync();
        if (await Task.WhenAny(acceptance, peer.Task, Task.Delay(TimeSpan.FromSeconds(20))) != acceptance)
            throw new InvalidOperationException($"the peer did not connect: {(peer.Task.IsCompleted ? (await peer).StandardError : "still running")}");
        using var accepted = await acceptance;

        string? refusal = PeerCredentials.Refusal(accepted);

        refusal.Should().Be($"ttrpc: peer pid {peer.ProcessId} runs as uid 65534 gid 65534, not {Libc.GetEuid()}:{ShimLibc.GetEgid()}");
        accepted.Dispose();
        await peer;
    }
}
