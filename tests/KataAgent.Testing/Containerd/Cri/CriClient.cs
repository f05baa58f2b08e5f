using System.Net.Sockets;
using Grpc.Net.Client;

namespace KataAgent.Testing.Containerd.Cri;

/// <summary>
/// Our own CRI client (crictl is not packaged in Debian): the generated <c>runtime.v1.RuntimeService</c> client of
/// <c>cri-runtime-v1.proto</c> over gRPC on containerd's unix socket, where its CRI plugin serves.
/// </summary>
public sealed class CriClient : IDisposable
{
    private readonly GrpcChannel _channel;

    /// <summary>A client of the CRI served on the unix socket <paramref name="socketPath"/> (nothing is dialled yet).</summary>
    public CriClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The authority is unused over a unix socket; h2c because containerd's gRPC has no TLS.
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = 16 << 20 });
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
    }

    /// <summary>The generated client of <c>runtime.v1.RuntimeService</c>.</summary>
    public RuntimeService.RuntimeServiceClient Runtime { get; }

    /// <summary>Stops and removes every pod sandbox the CRI knows (their containers go with them), as kubelet does when it drains the node.</summary>
    public async Task RemoveAllPodsAsync(CancellationToken cancellationToken = default)
    {
        var pods = await Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), cancellationToken: cancellationToken);
        foreach (var pod in pods.Items)
        {
            await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod.Id }, cancellationToken: cancellationToken);
            await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod.Id }, cancellationToken: cancellationToken);
        }
    }

    /// <summary>Closes the channel.</summary>
    public void Dispose() => _channel.Dispose();
}
