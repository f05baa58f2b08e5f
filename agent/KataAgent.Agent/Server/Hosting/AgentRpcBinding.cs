using System.Diagnostics.CodeAnalysis;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using KataAgent.Agent.Server.Binding;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Hosting;

/// <summary>
/// <typeparamref name="TService"/>, one instance serving every call over both protocols, its methods bound by its
/// generated <c>BindService</c> (<paramref name="bindService"/>).
/// </summary>
internal sealed class AgentRpcBinding<[DynamicallyAccessedMembers(ParsedRequestServiceBinder<object>.ServiceAccessibility)] TService>(
    Action<ServiceBinderBase, TService> bindService) : IAgentRpcBinding
    where TService : class
{
    public void BindTtrpc(ServiceBinderBase binder, IServiceProvider core) =>
        bindService(binder, core.GetRequiredService<TService>());

    public void AddToWebHost(IServiceCollection web, IServiceProvider core)
    {
        // Grpc.AspNetCore's activator hands each call the registered instance, which the bound handlers ignore:
        // they close over the core's instance, so nothing is created per call.
        var service = core.GetRequiredService<TService>();
        web.AddSingleton(service);
        web.AddSingleton<IServiceMethodProvider<TService>>(new ParsedRequestServiceMethodProvider<TService>(
            service, bindService, core.GetRequiredService<PolicyGate>(), core.GetRequiredService<ILogger<ParsedRequestServiceMethodProvider<TService>>>()));
    }

    public void Map(IEndpointRouteBuilder endpoints) => endpoints.MapGrpcService<TService>();
}
