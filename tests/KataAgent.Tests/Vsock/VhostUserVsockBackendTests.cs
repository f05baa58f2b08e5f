using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Host.Vsock;
using Xunit;

namespace KataAgent.Tests.Vsock;

/// <summary>The public backend: both sockets listen on Start, everything is gone after DisposeAsync, errors name the option.</summary>
public class VhostUserVsockBackendTests
{
    [Fact]
    public async Task Start_listens_on_both_sockets_and_dispose_deletes_them()
    {
        using var directory = new TempDirectory();
        var options = new VhostUserVsockOptions
        {
            VhostUserSocketPath = directory.File("vhost.sock"),
            HybridSocketPath = directory.File("vsock.sock"),
            GuestCid = 3,
        };

        var backend = VhostUserVsockBackend.Start(options);

        backend.GuestCid.Should().Be(3u);
        foreach (string path in new[] { options.VhostUserSocketPath, options.HybridSocketPath })
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path));
        }
        backend.Completion.IsCompleted.Should().BeFalse();

        await backend.DisposeAsync();

        File.Exists(options.VhostUserSocketPath).Should().BeFalse();
        File.Exists(options.HybridSocketPath).Should().BeFalse();
        await backend.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        await backend.DisposeAsync();
    }

    [Fact]
    public async Task A_live_hybrid_socket_is_never_taken_over_and_a_stale_one_is_replaced()
    {
        using var directory = new TempDirectory();
        string hybrid = directory.File("vsock.sock");
        using (var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Bound under another name and moved: .NET deletes the file it bound on dispose, this one stays behind.
            live.Bind(new UnixDomainSocketEndPoint(hybrid + ".bound"));
            live.Listen();
            File.Move(hybrid + ".bound", hybrid);

            var start = () => VhostUserVsockBackend.Start(new VhostUserVsockOptions { VhostUserSocketPath = directory.File("vhost.sock"), HybridSocketPath = hybrid, GuestCid = 3 });

            start.Should().Throw<VmException>().WithMessage("*HybridSocketPath*another process listens*");
            File.Exists(directory.File("vhost.sock")).Should().BeFalse();
        }

        // The listener above is closed and its socket file left: a crashed owner's leftover.
        File.Exists(hybrid).Should().BeTrue();
        await using var backend = VhostUserVsockBackend.Start(new VhostUserVsockOptions { VhostUserSocketPath = directory.File("vhost.sock"), HybridSocketPath = hybrid, GuestCid = 3 });
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await probe.ConnectAsync(new UnixDomainSocketEndPoint(hybrid));
    }

    [Fact]
    public void A_regular_file_in_the_way_is_an_error_and_stays()
    {
        using var directory = new TempDirectory();
        string hybrid = directory.File("vsock.sock");
        File.WriteAllText(hybrid, "precious");

        var start = () => VhostUserVsockBackend.Start(new VhostUserVsockOptions { VhostUserSocketPath = directory.File("vhost.sock"), HybridSocketPath = hybrid, GuestCid = 3 });

        start.Should().Throw<VmException>().WithMessage("*not a socket*");
        File.ReadAllText(hybrid).Should().Be("precious");
    }

    [Fact]
    public void A_missing_directory_for_the_vhost_user_socket_names_the_option_and_leaves_nothing_behind()
    {
        using var directory = new TempDirectory();
        var options = new VhostUserVsockOptions
        {
            VhostUserSocketPath = directory.File("missing/vhost.sock"),
            HybridSocketPath = directory.File("vsock.sock"),
            GuestCid = 3,
        };

        var start = () => VhostUserVsockBackend.Start(options);

        start.Should().Throw<VmException>().WithMessage("*VhostUserSocketPath*");
        File.Exists(options.HybridSocketPath).Should().BeFalse("the hybrid socket of a failed start is deleted");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(uint.MaxValue)]
    public void Reserved_cids_are_refused_by_name(uint cid)
    {
        using var directory = new TempDirectory();
        var start = () => VhostUserVsockBackend.Start(new VhostUserVsockOptions { VhostUserSocketPath = directory.File("a.sock"), HybridSocketPath = directory.File("b.sock"), GuestCid = cid });
        start.Should().Throw<ArgumentException>().WithMessage("*GuestCid*");
    }

    [Fact]
    public void The_same_path_for_both_sockets_is_refused()
    {
        using var directory = new TempDirectory();
        var start = () => VhostUserVsockBackend.Start(new VhostUserVsockOptions { VhostUserSocketPath = directory.File("a.sock"), HybridSocketPath = directory.File("a.sock"), GuestCid = 3 });
        start.Should().Throw<ArgumentException>().WithMessage("*same file*");
    }
}
