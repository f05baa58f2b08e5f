using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Policy;

/// <summary>
/// Which RPCs the policy governs, by the names a policy document uses: every method of
/// grpc.AgentService and of our kataagent.v1 services, read from the generated descriptors so a
/// new RPC is governed the day it is added. grpc.Health (Check, Version) is not governed, as in
/// Kata: a runtime must be able to see that the agent is up whatever the policy says.
/// </summary>
/// <remarks>
/// The service names are literals (a test holds them to the descriptors): a descriptor builds its proto file's
/// whole reflection, megabytes an agent without a policy document never needs, so the descriptors are read only
/// when a document is parsed (<see cref="Names"/>).
/// </remarks>
internal static class PolicyRpcs
{
    /// <summary>The governed services' full names, as <see cref="GovernedDescriptors"/> give them.</summary>
    internal static readonly string[] GovernedServices = ["grpc.AgentService", "kataagent.v1.Streaming", "kataagent.v1.Images"];

    private static IReadOnlySet<string>? s_names;

    /// <summary>Every governed RPC name (method names are unique across the governed services).</summary>
    public static IReadOnlySet<string> Names =>
        LazyInitializer.EnsureInitialized(ref s_names, () => GovernedDescriptors().SelectMany(s => s.Methods).Select(m => m.Name).ToHashSet(StringComparer.Ordinal));

    /// <summary>Whether calls of <paramref name="service"/> (e.g. <c>grpc.AgentService</c>) are checked against the policy.</summary>
    public static bool Governs(string service) => Array.IndexOf(GovernedServices, service) >= 0;

    /// <summary>The generated descriptors of the governed services.</summary>
    internal static Google.Protobuf.Reflection.ServiceDescriptor[] GovernedDescriptors() =>
        [AgentService.Descriptor, Streaming.Descriptor, global::KataAgent.Protocols.Extensions.Images.Descriptor];
}
