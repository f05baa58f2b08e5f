using KataAgent.Agent.Config;
using KataAgent.Linux.Addressing;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Transport;

/// <summary>The agent's listener for each kind of address it can serve on.</summary>
internal static class ConnectionListeners
{
    /// <summary>
    /// Binds <paramref name="address"/>: throws <see cref="AgentConfigException"/> for an address the agent cannot serve
    /// on or whose path is in the way, and the transport's own exception when the bind fails.
    /// </summary>
    public static IConnectionListener Bind(AgentAddress address, ILoggerFactory loggerFactory) => address.Kind switch
    {
        AgentAddressKind.Unix or AgentAddressKind.Tcp => SocketConnectionListener.Bind(address),
        AgentAddressKind.Vsock => VsockConnectionListener.Bind(new VsockEndPoint(address), loggerFactory.CreateLogger<VsockConnectionListener>()),
        AgentAddressKind.Serial => new SerialConnectionListener(new SerialEndPoint(address), loggerFactory.CreateLogger<SerialConnectionListener>()),
        _ => throw new AgentConfigException($"{address}: the agent cannot serve on a {address.Kind} address; use vsock://, serial://, unix:// or tcp://"),
    };
}
