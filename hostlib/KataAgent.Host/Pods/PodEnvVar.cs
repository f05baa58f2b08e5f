namespace KataAgent.Host.Pods;

/// <summary>One env entry (name and a literal value; valueFrom is not supported).</summary>
public sealed record PodEnvVar(string Name, string Value);
