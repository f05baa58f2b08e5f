using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Events;
using KataAgent.Shim.Tasks;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The shim daemon (reference §2.5): serves <c>containerd.task.v2.Task</c> over ttrpc on the socket <c>start</c>
/// passed as fd 3 (or on <c>-socket</c>), to peers of its own uid and gid only, until <see cref="RequestExit"/>
/// (Shutdown with no task left, or the VM gone) or SIGTERM/SIGINT; then it removes the socket, lets running calls
/// write their answers, gives the task service its cleanup, forwards the events still queued, and exits.
/// </summary>
internal sealed class ShimDaemon : IShimLifetime
{
    /// <summary>How long running calls may take to answer once the daemon is ending, before they are cut.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly ShimArguments _arguments;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _drain = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly List<Task> _connections = [];
    private readonly Lock _gate = new();

    private ShimDaemon(ShimArguments arguments)
    {
        _arguments = arguments;
    }

    /// <inheritdoc/>
    public CancellationToken Stopping => _stopping.Token;

    /// <inheritdoc/>
    public void RequestExit()
    {
        if (_stopping.IsCancellationRequested)
            return;
        ShimLog.Info("shim exiting");
        // Asynchronously: the caller is usually a handler whose answer must still be written, and the token's
        // callbacks (the accept loop's, the task service's) must not run on its stack.
        _ = _stopping.CancelAsync();
    }

    /// <summary>Runs the daemon to its end; returns the process exit code.</summary>
    public static async Task<int> RunAsync(ShimArguments arguments)
    {
        bool logAttached = LogFifo.Attach(arguments.Bundle);
        ShimLog.Configure(Console.Error, arguments.Debug,
            ("runtime", "io.containerd.kataagent.v2"), ("namespace", arguments.Namespace), ("id", arguments.Id),
            ("pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (!logAttached)
            ShimLog.Debug("no log FIFO with a reader in the bundle; logging to the inherited stderr");

        var daemon = new ShimDaemon(arguments);
        using var reaper = ChildReaper.Start();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, daemon.OnTerminationSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, daemon.OnTerminationSignal);
        Socket listener;
        try
        {
            listener = Listener(arguments);
        }
        catch (Exception e) when (e is SocketException or IOException or ShimUsageException or Interop.ShimInteropException)
        {
            ShimLog.Error("cannot listen", e);
            return 1;
        }
        string? socketFile = SocketFile(listener);
        ShimLog.Info($"serving on {socketFile ?? "an abstract socket"}");

        IEventPublisher publisher = arguments.TtrpcAddress.Length > 0
            ? new TtrpcEventPublisher(arguments.TtrpcAddress, arguments.Namespace)
            : new LoggingEventPublisher();
        var server = new TtrpcServer { UnknownMethods = TtrpcUnknownMethodStyle.Go };
        var service = new TaskService(arguments, publisher, daemon);
        service.Register(server);

        await daemon.AcceptAsync(listener, server).ConfigureAwait(false);

        // Gone from the socket's path first, so a start that looks now finds no live shim here; then closed.
        if (socketFile is not null)
            TryDelete(socketFile);
        listener.Dispose();
        await daemon.DrainAsync().ConfigureAwait(false);
        if ((object)service is IAsyncDisposable disposable)
            await disposable.DisposeAsync().ConfigureAwait(false);
        if (publisher is IAsyncDisposable closing)
            await closing.DisposeAsync().ConfigureAwait(false);
        ShimLog.Info("shim exited");
        return 0;
    }

    private void OnTerminationSignal(PosixSignalContext context)
    {
        // The daemon ends in order (socket removed, calls answered, cleanup) rather than at once.
        context.Cancel = true;
        ShimLog.Info($"received {context.Signal}");
        RequestExit();
    }

    /// <summary>The listener: fd 3 from <c>start</c>, or a socket of its own for <c>-socket</c>.</summary>
    private static Socket Listener(ShimArguments arguments)
    {
        if (arguments.Socket is not { } socket)
        {
            var inherited = new Socket(new SafeSocketHandle(DaemonLauncher.ListenerFd, ownsHandle: true));
            // SO_ACCEPTCONN: a person running the daemon by hand may have anything on fd 3.
            Span<byte> accepting = stackalloc byte[sizeof(int)];
            if (inherited.GetRawSocketOption(1, 30, accepting) != sizeof(int) || BitConverter.ToInt32(accepting) != 1)
            {
                inherited.SafeHandle.SetHandleAsInvalid();
                throw new ShimUsageException("fd 3 is not a listening socket: the daemon is started by 'start', or given -socket");
            }
            return inherited;
        }
        // Go's net.Listen("unix", path): a path, or an abstract name after '@'.
        string address = socket.StartsWith(ShimSocketAddress.UnixScheme, StringComparison.Ordinal) ? socket
            : socket.StartsWith('@') ? socket[1..]
            : ShimSocketAddress.UnixScheme + socket;
        return new Socket(ShimSocket.Listen(address));
    }

    private static string? SocketFile(Socket listener)
    {
        string? path = (listener.LocalEndPoint as UnixDomainSocketEndPoint)?.ToString();
        return string.IsNullOrEmpty(path) || path[0] is '\0' or '@' ? null : path;
    }

    private async Task AcceptAsync(Socket listener, TtrpcServer server)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue;
            }
            lock (_gate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(Task.Run(() => ServeAsync(connection, server)));
            }
        }
    }

    private async Task ServeAsync(Socket connection, TtrpcServer server)
    {
        try
        {
            if (PeerCredentials.Refusal(connection) is { } refusal)
            {
                ShimLog.Warn(refusal);
                return;
            }
            await using var stream = new NetworkStream(connection, ownsSocket: true);
            await server.ServeConnectionAsync(stream, _drain.Token, _abort.Token).ConfigureAwait(false);
        }
        catch (TtrpcProtocolException e)
        {
            ShimLog.Warn("closing a connection that broke the ttrpc protocol", e);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ShimLog.Debug($"connection ended: {e.Message}");
        }
        finally
        {
            connection.Dispose();
        }
    }

    /// <summary>Stops reading requests, lets running calls answer for up to <see cref="DrainTimeout"/>, then cuts the rest.</summary>
    private async Task DrainAsync()
    {
        Task[] connections;
        lock (_gate)
            connections = [.. _connections];
        await _drain.CancelAsync().ConfigureAwait(false);
        var all = Task.WhenAll(connections);
        if (await Task.WhenAny(all, Task.Delay(DrainTimeout)).ConfigureAwait(false) != all)
        {
            ShimLog.Warn($"calls still running {DrainTimeout.TotalSeconds:0} s after shutdown are cancelled");
            await _abort.CancelAsync().ConfigureAwait(false);
        }
        await all.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ShimLog.Warn($"cannot remove {path}", e);
        }
    }
}
