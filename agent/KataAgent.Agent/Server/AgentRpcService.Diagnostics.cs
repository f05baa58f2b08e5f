using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>GetDiagnosticData: a container's termination log (Diagnostics/DiagnosticData).</summary>
internal sealed partial class AgentRpcService
{
    public override Task<GetDiagnosticDataResponse> GetDiagnosticData(GetDiagnosticDataRequest request, ServerCallContext context) =>
        Task.FromResult(new GetDiagnosticDataResponse { Data = _diagnostics.Read(request.LogType, request.ContainerId) });
}
