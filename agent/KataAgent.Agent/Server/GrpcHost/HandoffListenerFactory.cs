using System.Net;
using Microsoft.AspNetCore.Connections;

namespace KataAgent.Agent.Server.GrpcHost;

/// <summary>Kestrel's only transport in the agent: binding the <see cref="HandoffEndPoint"/> gives the one <see cref="HandoffConnectionListener"/>.</summary>
internal sealed class HandoffListenerFactory(HandoffConnectionListener listener) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is HandoffEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        endpoint == listener.EndPoint
            ? ValueTask.FromResult<IConnectionListener>(listener)
            : throw new NotSupportedException($"the agent's Kestrel serves only the connections its listener hands over, not {endpoint}");
}
