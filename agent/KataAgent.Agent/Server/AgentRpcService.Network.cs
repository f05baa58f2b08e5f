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
        Network(() => _network.UpdateInterfaceAsync(request.Interface, context.CancellationToken));

    public override async Task<Routes> UpdateRoutes(UpdateRoutesRequest request, ServerCallContext context)
    {
        var routes = await Network(() => _network.UpdateRoutesAsync(request.Routes?.Routes_ ?? [], context.CancellationToken)).ConfigureAwait(false);
        return new Routes { Routes_ = { routes } };
    }

    public override async Task<Interfaces> ListInterfaces(ListInterfacesRequest request, ServerCallContext context)
    {
        var interfaces = await Network(() => _network.ListInterfacesAsync(context.CancellationToken)).ConfigureAwait(false);
        return new Interfaces { Interfaces_ = { interfaces } };
    }

    public override async Task<Routes> ListRoutes(ListRoutesRequest request, ServerCallContext context)
    {
        var routes = await Network(() => _network.ListRoutesAsync(context.CancellationToken)).ConfigureAwait(false);
        return new Routes { Routes_ = { routes } };
    }

    public override async Task<Empty> AddARPNeighbors(AddARPNeighborsRequest request, ServerCallContext context)
    {
        await Network(() => _network.AddArpNeighborsAsync(request.Neighbors?.ARPNeighbors_ ?? [], context.CancellationToken)).ConfigureAwait(false);
        return new Empty();
    }

    /// <summary>Runs a network operation; a field it cannot apply becomes INVALID_ARGUMENT naming the field.</summary>
    private static async Task<T> Network<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (NetworkConfigException e)
        {
            throw RpcErrors.InvalidArgument(e.Field, e.Problem);
        }
    }
}
