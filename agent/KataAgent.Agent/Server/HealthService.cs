using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Server;

/// <summary>grpc.Health: the runtime's liveness probe and version query.</summary>
internal sealed class HealthService : Health.HealthBase
{
    /// <summary>Services a CheckRequest may name; empty means "the agent as a whole".</summary>
    private static readonly HashSet<string> KnownServices = ["", "grpc.AgentService", "grpc.Health", "kataagent.v1", "kataagent.v1.Images"];

    public override Task<HealthCheckResponse> Check(CheckRequest request, ServerCallContext context)
    {
        if (!KnownServices.Contains(request.Service))
        {
            throw AgentException.NotFound("service", $"'{request.Service}' is not served by this agent");
        }
        return Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
    }

    public override Task<VersionCheckResponse> Version(CheckRequest request, ServerCallContext context) =>
        Task.FromResult(new VersionCheckResponse { GrpcVersion = AgentVersion.Api, AgentVersion = AgentVersion.Agent });
}
