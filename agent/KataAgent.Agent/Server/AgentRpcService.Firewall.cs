using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>GetIPTables and SetIPTables: the guest's packet filter, through its iptables tools (Firewall/IpTables).</summary>
internal sealed partial class AgentRpcService
{
    public override async Task<GetIPTablesResponse> GetIPTables(GetIPTablesRequest request, ServerCallContext context) =>
        new() { Data = ByteString.CopyFrom(await _ipTables.SaveAsync(request.IsIpv6, context.CancellationToken).ConfigureAwait(false)) };

    public override async Task<SetIPTablesResponse> SetIPTables(SetIPTablesRequest request, ServerCallContext context) =>
        new() { Data = ByteString.CopyFrom(await _ipTables.RestoreAsync(request.IsIpv6, request.Data.Memory, context.CancellationToken).ConfigureAwait(false)) };
}
