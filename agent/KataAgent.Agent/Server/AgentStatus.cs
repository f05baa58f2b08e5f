using Grpc.Core;

namespace KataAgent.Agent.Server;

/// <summary>
/// The status a front end answers a failed request with. <see cref="Code"/> uses google.rpc.Code's
/// numbers, which gRPC's status and ttrpc's google.rpc.Status both carry, so every front end sends
/// the same code and message for the same failure.
/// </summary>
/// <param name="Code">The status code (google.rpc.Code numbering).</param>
/// <param name="Message">What the runtime sees: the field first when a field is at fault.</param>
public readonly record struct AgentStatus(StatusCode Code, string Message);
