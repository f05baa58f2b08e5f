using Grpc.Core;

namespace KataAgent.Agent.Server;

/// <summary>Statuses the agent answers with, worded one way everywhere: the field first, then the problem.</summary>
public static class RpcErrors
{
    /// <summary>INVALID_ARGUMENT, "FIELD: PROBLEM".</summary>
    public static RpcException InvalidArgument(string field, string problem) =>
        new(new Status(StatusCode.InvalidArgument, $"{field}: {problem}"));
}
