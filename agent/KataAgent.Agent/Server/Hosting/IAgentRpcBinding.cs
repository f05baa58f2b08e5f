using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KataAgent.Agent.Server.Hosting;

/// <summary>
/// One RPC service of the agent as both front ends see it: the core's single instance, bound method by method into
/// the ttrpc server at once and into Grpc.AspNetCore when the web host is built.
/// </summary>
internal interface IAgentRpcBinding
{
    /// <summary>Binds the service's methods, served by the core's instance, into <paramref name="binder"/> (ttrpc).</summary>
    void BindTtrpc(ServiceBinderBase binder, IServiceProvider core);

    /// <summary>Registers the core's instance and its method provider in the web host's <paramref name="web"/>.</summary>
    void AddToWebHost(IServiceCollection web, IServiceProvider core);

    /// <summary>Maps the service's gRPC routes on the built web host.</summary>
    void Map(IEndpointRouteBuilder endpoints);
}
