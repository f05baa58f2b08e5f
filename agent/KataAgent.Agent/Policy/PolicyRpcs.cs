using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Policy;

/// <summary>
/// Which RPCs the policy governs, by the names a policy document uses: every method of
/// grpc.AgentService and of our kataagent.v1 services, read from the generated descriptors so a
/// new RPC is governed the day it is added. grpc.Health (Check, Version) is not governed, as in
/// Kata: a runtime must be able to see that the agent is up whatever the policy says.
/// </summary>
internal static class PolicyRpcs
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor[] Governed = [AgentService.Descriptor, Streaming.Descriptor, global::KataAgent.Protocols.Extensions.Images.Descriptor];

    /// <summary>Every governed RPC name (method names are unique across the governed services).</summary>
    public static IReadOnlySet<string> Names { get; } = Governed.SelectMany(s => s.Methods).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Whether calls of <paramref name="service"/> (e.g. <c>grpc.AgentService</c>) are checked against the policy.</summary>
    public static bool Governs(string service) => Governed.Any(s => s.FullName == service);
}
