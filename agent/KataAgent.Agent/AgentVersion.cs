using System.Reflection;

namespace KataAgent.Agent;

/// <summary>Version strings reported by Health.Version and GetGuestDetails.</summary>
public static class AgentVersion
{
    /// <summary>The agent's own version (assembly informational version, without build metadata).</summary>
    public static string Agent { get; } =
        (typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    /// <summary>
    /// The agent API version, reported as VersionCheckResponse.grpc_version. Kata's agent reports
    /// its protocol version here ("0.0.1"); we speak that same API, so we report the same.
    /// </summary>
    public const string Api = "0.0.1";
}
