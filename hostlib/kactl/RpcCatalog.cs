using Google.Protobuf.Reflection;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary>
/// Every RPC <c>kactl call</c> knows, straight from the compiled descriptors: each
/// grpc.AgentService method by its bare name (as Kata's agent-ctl), plus Health.Check and
/// Health.Version.
/// </summary>
public static class RpcCatalog
{
    /// <summary>RPCs that wait for something to happen; like the host library, kactl gives them no default deadline.
    /// RemoveContainer carries its own timeout in the request.</summary>
    private static readonly HashSet<string> LongPolls = ["WaitProcess", "ReadStdout", "ReadStderr", "GetOOMEvent", "RemoveContainer"];

    /// <summary>All callable RPCs: AgentService's in proto order, then Health's.</summary>
    public static IReadOnlyList<RpcEntry> All { get; } = Build();

    /// <summary>The names users can type, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Finds an RPC by name: exact, then case-insensitive. Also accepts AgentService.X,
    /// grpc.AgentService.X, grpc.Health.Check and the gRPC path form /grpc.AgentService/X.</summary>
    public static RpcEntry? Find(string name)
    {
        string key = Normalize(name);
        return All.FirstOrDefault(e => string.Equals(e.Name, key, StringComparison.Ordinal))
            ?? (All.Where(e => string.Equals(e.Name, key, StringComparison.OrdinalIgnoreCase)).ToArray() is [var only] ? only : null);
    }

    private static string Normalize(string name)
    {
        string key = name.Trim().TrimStart('/').Replace('/', '.');
        if (key.StartsWith("grpc.", StringComparison.Ordinal))
        {
            key = key["grpc.".Length..];
        }
        if (key.StartsWith("AgentService.", StringComparison.OrdinalIgnoreCase))
        {
            key = key["AgentService.".Length..];
        }
        return key;
    }

    private static RpcEntry[] Build()
    {
        var entries = new List<RpcEntry>();
        foreach (var service in new[] { FindService(AgentReflection.Descriptor, "AgentService"), FindService(HealthReflection.Descriptor, "Health") })
        {
            bool isAgentService = service.Name == "AgentService";
            foreach (MethodDescriptor method in service.Methods)
            {
                if (method.IsClientStreaming || method.IsServerStreaming)
                {
                    continue; // Kata's API has none; kactl only does unary calls.
                }
                string name = isAgentService ? method.Name : $"{service.Name}.{method.Name}";
                entries.Add(new RpcEntry(name, method, isAgentService && LongPolls.Contains(method.Name)));
            }
        }
        return entries.ToArray();
    }

    private static ServiceDescriptor FindService(FileDescriptor file, string name) =>
        file.Services.FirstOrDefault(s => s.Name == name)
        ?? throw new InvalidOperationException($"{file.Name} has no service {name}");
}
