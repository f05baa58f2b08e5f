using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Types;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    /// <summary>UpdateInterface: Configures a guest NIC (found by MAC): addresses, MTU, name, flags, up.</summary>
    public async Task<Interface> UpdateInterfaceAsync(UpdateInterfaceRequest request, CancellationToken cancellationToken = default) =>
        await _calls.UpdateInterfaceAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>UpdateRoutes: Replaces the guest's route table.</summary>
    public async Task<Routes> UpdateRoutesAsync(UpdateRoutesRequest request, CancellationToken cancellationToken = default) =>
        await _calls.UpdateRoutesAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ListInterfaces: Lists the guest's NICs.</summary>
    public async Task<Interfaces> ListInterfacesAsync(ListInterfacesRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ListInterfacesAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>ListRoutes: Lists the guest's routes.</summary>
    public async Task<Routes> ListRoutesAsync(ListRoutesRequest request, CancellationToken cancellationToken = default) =>
        await _calls.ListRoutesAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>AddARPNeighbors: Adds static neighbour entries.</summary>
    public async Task AddARPNeighborsAsync(AddARPNeighborsRequest request, CancellationToken cancellationToken = default) =>
        await _calls.AddARPNeighborsAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>GetIPTables: Reads the guest firewall rules (iptables-save format).</summary>
    public async Task<GetIPTablesResponse> GetIPTablesAsync(GetIPTablesRequest request, CancellationToken cancellationToken = default) =>
        await _calls.GetIPTablesAsync(request, Call(cancellationToken)).ConfigureAwait(false);

    /// <summary>SetIPTables: Loads guest firewall rules (iptables-restore format).</summary>
    public async Task<SetIPTablesResponse> SetIPTablesAsync(SetIPTablesRequest request, CancellationToken cancellationToken = default) =>
        await _calls.SetIPTablesAsync(request, Call(cancellationToken)).ConfigureAwait(false);
}
