using System.Net.Sockets;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Linux.Terminals;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// Plays qemu's part of a virtio-serial port without a VM. The guest side is a pty slave reached
/// through a symlink (the agent serves <c>serial://</c> on <see cref="DevicePath"/>); the host
/// side is a unix socket (<see cref="ChardevSocketPath"/>), as qemu's
/// <c>-chardev socket,server=on</c>. Like qemu, it carries one host connection at a time, and
/// when that connection closes the guest sees the port hang up: here the pty goes away and a
/// fresh one takes its place behind the symlink.
/// </summary>
public sealed class FakeVirtioSerialPort : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private PseudoTerminal _pty;
    private int _slaveFd;

    public FakeVirtioSerialPort(TempDirectory directory)
    {
        DevicePath = directory.File("vport0p1");
        ChardevSocketPath = directory.File("agent.sock");
        (_pty, _slaveFd) = NewPort();
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(ChardevSocketPath));
        _listener.Listen(1);
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The "device" the agent opens (a symlink to the current pty slave).</summary>
    public string DevicePath { get; }

    /// <summary>The host end, where the host library connects with serial:///PATH.</summary>
    public string ChardevSocketPath { get; }

    /// <summary>Host connections carried so far.</summary>
    public int Connections { get; private set; }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _pty.Dispose();
        Libc.Close(_slaveFd);
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            using Socket host = await _listener.AcceptAsync(_stop.Token);
            Connections++;
            await using (var hostStream = new NetworkStream(host, ownsSocket: false))
            await using (var guestStream = new FileDescriptorStream(_pty.ReleaseMaster(), ownsFd: true))
            {
                using var relay = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = hostStream.CopyToAsync(guestStream, relay.Token);
                var down = guestStream.CopyToAsync(hostStream, relay.Token);
                await Task.WhenAny(up, down);
                relay.Cancel();
                await Task.WhenAll(Quietly(up), Quietly(down));
            }
            // The master is closed: the agent's reads see the hang-up. Put a new port in place.
            Libc.Close(_slaveFd);
            _pty.Dispose();
            (_pty, _slaveFd) = NewPort();
        }
    }

    private (PseudoTerminal Pty, int SlaveFd) NewPort()
    {
        var pty = PseudoTerminal.Open();
        // Raw before any byte flows: a cooked tty would echo and rewrite CR/LF in the HTTP/2 frames.
        int slave = Libc.Check(Libc.Open(pty.SlavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC), $"open {pty.SlavePath}");
        PseudoTerminal.MakeRaw(slave);
        string link = DevicePath + ".new";
        File.Delete(link);
        File.CreateSymbolicLink(link, pty.SlavePath);
        File.Move(link, DevicePath, overwrite: true);
        return (pty, slave);
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
        }
    }
}
