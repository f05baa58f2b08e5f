using System.Diagnostics.CodeAnalysis;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Binding;

/// <summary>
/// Discovers a service's methods by calling its generated <c>BindService</c> with
/// <see cref="ParsedRequestServiceBinder{TService}"/> (instead of Grpc.AspNetCore's reflection-based
/// binder, which AgentServer removes). <paramref name="service"/> is the one instance that serves
/// every call: the agent's services hold no per-call state. A request that does not parse is
/// logged on <paramref name="logger"/>, once, as the error mapping logs a refused request.
/// </summary>
/// <typeparam name="TService">The service type.</typeparam>
internal sealed class ParsedRequestServiceMethodProvider<[DynamicallyAccessedMembers(ParsedRequestServiceBinder<object>.ServiceAccessibility)] TService>(
    TService service, Action<ServiceBinderBase, TService> bindService, PolicyGate policy, ILogger logger) : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context) =>
        bindService(new ParsedRequestServiceBinder<TService>(context, policy, logger), service);
}
