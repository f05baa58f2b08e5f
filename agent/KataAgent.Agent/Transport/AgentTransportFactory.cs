using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Transport;

/// <summary>
/// Kestrel transport for the endpoints its socket transport does not know: virtio-serial ports and
/// AF_VSOCK. Registered beside the socket transport; Kestrel asks <see cref="CanBind"/> which to use.
/// </summary>
internal sealed class AgentTransportFactory(ILoggerFactory loggerFactory) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is SerialEndPoint or VsockEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        IConnectionListener listener = endpoint switch
        {
            SerialEndPoint serial => new SerialConnectionListener(serial, loggerFactory.CreateLogger<SerialConnectionListener>()),
            VsockEndPoint vsock => VsockConnectionListener.Bind(vsock, loggerFactory.CreateLogger<VsockConnectionListener>()),
            _ => throw new NotSupportedException($"the agent transport cannot bind {endpoint}"),
        };
        return ValueTask.FromResult(listener);
    }
}
