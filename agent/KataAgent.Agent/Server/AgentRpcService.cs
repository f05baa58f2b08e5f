using Grpc.Core;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Diagnostics;
using KataAgent.Agent.Files;
using KataAgent.Agent.Firewall;
using KataAgent.Agent.Guest;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.Guest.Swap;
using KataAgent.Agent.MemAgent;
using KataAgent.Agent.Network;
using KataAgent.Agent.Policy;
using KataAgent.Agent.Sandbox;
using KataAgent.Agent.Guest.Metrics;
using KataAgent.Protocols.Agent;
using KataAgent.Agent.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>
/// grpc.AgentService. One partial file per concern; each handler validates its request, then
/// calls the subsystem that does the work. Failures are <see cref="Errors.AgentException"/>s that
/// <see cref="AgentErrorMapping"/> turns into statuses; RPCs not overridden here answer UNIMPLEMENTED
/// naming themselves (see <see cref="RpcErrorInterceptor"/>).
/// </summary>
internal sealed partial class AgentRpcService : AgentService.AgentServiceBase
{
    private readonly ILogger<AgentRpcService> _logger;
    private readonly MetricsCollector _metrics;
    private readonly GuestSystem _guest;
    private readonly ContainerManager _containers;
    private readonly SandboxManager _sandbox;
    private readonly AgentLifetime _lifetime;
    private readonly GuestNetwork _network;
    private readonly FileCopier _files;
    private readonly GuestHotplug _hotplug;
    private readonly SwapActivator _swap;
    private readonly AgentPolicy _policy;
    private readonly IpTables _ipTables;
    private readonly MemAgentService _memAgent;
    private readonly DiagnosticData _diagnostics;

    public AgentRpcService(ILogger<AgentRpcService> logger, MetricsCollector metrics, GuestSystem guest, ContainerManager containers, SandboxManager sandbox, AgentLifetime lifetime, GuestNetwork network, FileCopier files, GuestHotplug hotplug, SwapActivator swap, AgentPolicy policy, IpTables ipTables, MemAgentService memAgent, DiagnosticData diagnostics)
    {
        _hotplug = hotplug;
        _swap = swap;
        _diagnostics = diagnostics;
        _memAgent = memAgent;
        _ipTables = ipTables;
        _policy = policy;
        _files = files;
        _network = network;
        _lifetime = lifetime;
        _sandbox = sandbox;
        _logger = logger;
        _metrics = metrics;
        _guest = guest;
        _containers = containers;
    }
}
