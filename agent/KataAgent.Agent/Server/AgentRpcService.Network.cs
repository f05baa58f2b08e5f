using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Agent.Network;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Types;

namespace KataAgent.Agent.Server;

/// <summary>Network RPCs: interfaces, routes, neighbours (see <see cref="GuestNetwork"/>).</summary>
internal sealed partial class AgentRpcService
{
    public override Task<Interface> UpdateInterface(UpdateInterfaceRequest request, ServerCallContext context) =>
        _network.UpdateInterfaceAsync(request.Interface, context.CancellationToken);

    public override async Task<Routes> UpdateRoutes(UpdateRoutesRequest request, ServerCallContext context)
    {
        var routes = await _network.UpdateRoutesAsync(request.Routes?.Routes_ ?? [], context.CancellationToken).ConfigureAwait(false);
        return new Routes { Routes_ = { routes } };
    }

    public override async Task<Interfaces> ListInterfaces(ListInterfacesRequest request, ServerCallContext context)
    {
        var interfaces = await _network.ListInterfacesAsync(context.CancellationToken).ConfigureAwait(false);
        return new Interfaces { Interfaces_ = { interfaces } };
    }

    public override async Task<Routes> ListRoutes(ListRoutesRequest request, ServerCallContext context)
    {
        var routes = await _network.ListRoutesAsync(context.CancellationToken).ConfigureAwait(false);
        return new Routes { Routes_ = { routes } };
    }

    public override async Task<Empty> AddARPNeighbors(AddARPNeighborsRequest request, ServerCallContext context)
    {
        await _network.AddArpNeighborsAsync(request.Neighbors?.ARPNeighbors_ ?? [], context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }
}
