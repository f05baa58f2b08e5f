using System.Net.Sockets;
using System.Text;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// Stands in for a VMM's hybrid-vsock socket (Firecracker, Cloud Hypervisor): reads
/// <c>CONNECT PORT\n</c>, then behaves as <see cref="Behaviour"/> says; when it accepts, it
/// relays bytes to the agent's unix socket.
/// </summary>
public sealed class HybridVsockProxy : IAsyncDisposable
{
    public enum Behaviour
    {
        Accept,
        Refuse,
        Garbage,
        Silent,
    }

    private readonly Socket _listener;
    private readonly string _agentSocket;
    private readonly Behaviour _behaviour;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly List<Socket> _open = [];

    public HybridVsockProxy(string path, string agentSocket, Behaviour behaviour)
    {
        Path = path;
        _agentSocket = agentSocket;
        _behaviour = behaviour;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(16);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>The CONNECT lines received, in order.</summary>
    public List<string> Requests { get; } = [];

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_open)
        {
            _open.ForEach(s => s.Dispose());
        }
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client = await _listener.AcceptAsync(_stop.Token);
            lock (_open)
            {
                _open.Add(client);
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            var line = new StringBuilder();
            var one = new byte[1];
            while (await client.ReceiveAsync(one, _stop.Token) == 1 && one[0] != '\n')
            {
                line.Append((char)one[0]);
            }
            lock (Requests)
            {
                Requests.Add(line.ToString());
            }
            switch (_behaviour)
            {
                case Behaviour.Refuse:
                    client.Dispose();
                    return;
                case Behaviour.Garbage:
                    await client.SendAsync(Encoding.ASCII.GetBytes("HELLO THERE\n"), _stop.Token);
                    return;
                case Behaviour.Silent:
                    return;
            }
            var agent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            lock (_open)
            {
                _open.Add(agent);
            }
            await agent.ConnectAsync(new UnixDomainSocketEndPoint(_agentSocket), _stop.Token);
            await client.SendAsync(Encoding.ASCII.GetBytes("OK 1073741824\n"), _stop.Token);
            using var clientStream = new NetworkStream(client, ownsSocket: true);
            using var agentStream = new NetworkStream(agent, ownsSocket: true);
            await Task.WhenAny(clientStream.CopyToAsync(agentStream, _stop.Token), agentStream.CopyToAsync(clientStream, _stop.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }
}
