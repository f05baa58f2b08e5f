using System.Text;
using KataAgent.Linux.Interop;
using KataAgent.Host.Transport;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// A vhost-user back-end: listens on a unix socket, serves one front-end (qemu) connection at a time on a loop
/// thread of its own, and runs <see cref="IVhostUserDevice"/> over the rings and guest memory that connection sets
/// up. qemu is the client, so the socket exists from <see cref="Listen"/> on; when qemu disconnects the device is
/// stopped (if it ran) and the next connection accepted.
/// </summary>
/// <remarks>
/// A malformed message closes its connection with a logged reason; an unknown request is logged and refused; a
/// broken ring stops the device until the driver resets it. None of these ends the server. What does
/// (<see cref="Completion"/> faults) is the listening socket failing or the device throwing something other than
/// <see cref="VirtqueueException"/>: the device's state is then unknown, and the owner must decide.
/// </remarks>
internal sealed class VhostUserServer : IAsyncDisposable
{
    private readonly SafeFileDescriptor _listen;
    private readonly SafeFileDescriptor _wake;
    private readonly IVhostUserDevice _device;
    private readonly TextWriter? _log;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _loopExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private int _disposed;
    private int _cleanedUp;
    private bool _cleanUpOnExit;

    private VhostUserServer(string socketPath, SafeFileDescriptor listen, SafeFileDescriptor wake, IVhostUserDevice device, TextWriter? log)
    {
        SocketPath = socketPath;
        _listen = listen;
        _wake = wake;
        _device = device;
        _log = log;
        _thread = new Thread(Loop) { IsBackground = true, Name = "vhost-user " + Path.GetFileName(socketPath) };
    }

    /// <summary>The unix socket qemu connects to (<c>-chardev socket,path=…</c>).</summary>
    public string SocketPath { get; }

    /// <summary>Ends when the server is disposed; faults, with a message saying what, on a fatal error.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Binds and listens on <paramref name="socketPath"/> before returning (a stale socket file there is replaced;
    /// anything else is an error), then serves connections in the background.
    /// </summary>
    /// <exception cref="LinuxException">The socket cannot be bound or listened on.</exception>
    /// <exception cref="ArgumentException">The path is too long for a unix socket, or something other than a socket is in the way.</exception>
    public static VhostUserServer Listen(string socketPath, IVhostUserDevice device, TextWriter? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(device);
        if (device.QueueCount is < 1 or > 256)
        {
            throw new ArgumentException($"a vhost-user device handles 1 to 256 queues, not {device.QueueCount}", nameof(device));
        }
        var listen = ListenUnix(socketPath);
        SafeFileDescriptor? wake = null;
        try
        {
            wake = SafeFileDescriptor.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd for the vhost-user server");
            var server = new VhostUserServer(socketPath, listen, wake, device, log is null ? null : TextWriter.Synchronized(log));
            server._thread.Start();
            return server;
        }
        catch
        {
            wake?.Dispose();
            listen.Dispose();
            File.Delete(socketPath);
            throw;
        }
    }

    /// <summary>
    /// Stops the loop (ending a connection half-way), stops the device if it runs, unmaps guest memory, closes every
    /// fd and deletes the socket file. Called from the loop thread itself (a device callback), it cannot wait for the
    /// loop: the loop then cleans up as it leaves.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Libc.EventFdWrite((int)_wake.DangerousGetHandle());
        }
        if (Environment.CurrentManagedThreadId == _thread.ManagedThreadId)
        {
            _cleanUpOnExit = true;
            return;
        }
        await _loopExited.Task.ConfigureAwait(false);
        Cleanup();
    }

    /// <summary>Once the loop is gone: the listening socket, the wake eventfd and the socket file. Idempotent.</summary>
    private void Cleanup()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) == 1)
        {
            return;
        }
        _listen.Dispose();
        _wake.Dispose();
        File.Delete(SocketPath);
        _completion.TrySetResult();
    }

    private void Loop()
    {
        try
        {
            while (Volatile.Read(ref _disposed) == 0)
            {
                var socket = Accept();
                if (socket is null)
                {
                    break;
                }
                Serve(socket);
            }
        }
        catch (Exception e)
        {
            Log($"stopped: {e}");
            _completion.TrySetException(new InvalidOperationException($"the vhost-user server on {SocketPath} stopped: {e.Message}", e));
        }
        finally
        {
            _loopExited.TrySetResult();
            if (_cleanUpOnExit)
            {
                Cleanup();
            }
        }
    }

    private void Serve(SafeFileDescriptor socket)
    {
        Log("front-end connected");
        using var connection = new VhostUserConnection(socket, (int)_wake.DangerousGetHandle(), _device, _log);
        try
        {
            connection.Run();
            Log(Volatile.Read(ref _disposed) == 0 ? "front-end disconnected" : "closing the connection: the server is disposed");
        }
        catch (VhostUserProtocolException e)
        {
            Log($"closing the connection: malformed message: {e.Message}");
        }
    }

    /// <summary>The next connection, or null once disposed.</summary>
    private unsafe SafeFileDescriptor? Accept()
    {
        int listenFd = (int)_listen.DangerousGetHandle();
        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        while (Volatile.Read(ref _disposed) == 0)
        {
            fds[0] = new Libc.PollFd { Fd = listenFd, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = (int)_wake.DangerousGetHandle(), Events = Libc.POLLIN };
            if (Libc.Poll(fds, 2, -1) < 0 || fds[1].Revents != 0)
            {
                continue;
            }
            int fd = Libc.Accept4(listenFd, null, null, Libc.SOCK_CLOEXEC);
            if (fd >= 0)
            {
                return new SafeFileDescriptor(fd);
            }
            var error = LinuxException.FromLastError($"accept on {SocketPath}");
            if (error.Errno is not (Errno.EAGAIN or Errno.EINTR or Errno.ECONNABORTED))
            {
                throw error;
            }
        }
        return null;
    }

    private static unsafe SafeFileDescriptor ListenUnix(string path)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= 108)
        {
            throw new ArgumentException($"{path}: a unix socket path has at most 107 bytes", nameof(path));
        }
        if (File.Exists(path) || Directory.Exists(path))
        {
            if (!SocketFile.IsSocket(path))
            {
                throw new ArgumentException($"{path}: something other than a socket is in the way", nameof(path));
            }
            File.Delete(path); // a socket a crashed owner left behind: qemu must find ours
        }
        var fd = SafeFileDescriptor.Check(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0), $"socket(AF_UNIX) for {path}");
        try
        {
            byte* address = stackalloc byte[110];
            new Span<byte>(address, 110).Clear();
            *(ushort*)address = Libc.AF_UNIX;
            bytes.CopyTo(new Span<byte>(address + 2, 108));
            Libc.Check(Libc.Bind((int)fd.DangerousGetHandle(), address, (uint)(2 + bytes.Length + 1)), $"bind {path}");
            Libc.Check(Libc.Listen((int)fd.DangerousGetHandle(), 1), $"listen {path}");
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }


    private void Log(string line) => _log?.WriteLine($"vhost-user {SocketPath}: {line}");
}
