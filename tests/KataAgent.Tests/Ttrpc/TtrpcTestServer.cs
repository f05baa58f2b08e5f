using System.Collections.Concurrent;
using System.Net.Sockets;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Tests.Ttrpc;

/// <summary>
/// A <see cref="TtrpcServer"/> on a unix socket in a temporary directory, owning its connections the way the agent
/// will: a framing error closes that connection only and is recorded, the listener goes on accepting.
/// </summary>
internal sealed class TtrpcTestServer : IAsyncDisposable
{
    private readonly TempDirectory directory = new();
    private readonly Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;

    public TtrpcTestServer(TtrpcServer server)
    {
        Server = server;
        SocketPath = directory.File("ttrpc.sock");
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(16);
        accepting = AcceptAsync();
    }

    public TtrpcServer Server { get; }

    public string SocketPath { get; }

    /// <summary>The framing errors that closed a connection, in order.</summary>
    public ConcurrentQueue<TtrpcProtocolException> ProtocolErrors { get; } = new();

    public async Task<Socket> ConnectRawAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        return socket;
    }

    public async Task<TtrpcClient> ConnectClientAsync() =>
        new(new NetworkStream(await ConnectRawAsync(), ownsSocket: true));

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Dispose();
        try
        {
            await accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // the listener was closed under the accept
        }
        stop.Dispose();
        directory.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            Socket connection = await listener.AcceptAsync(stop.Token);
            _ = ServeAsync(connection);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        await using var stream = new NetworkStream(connection, ownsSocket: true);
        try
        {
            await Server.ServeConnectionAsync(stream, cancellationToken: stop.Token);
        }
        catch (TtrpcProtocolException e)
        {
            ProtocolErrors.Enqueue(e);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // the test is over, or the peer went away
        }
    }
}
