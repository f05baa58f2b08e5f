namespace KataAgent.Agent.Containers.Processes;

/// <summary>Starting or driving a container process failed; the message says which step and why.</summary>
public sealed class ContainerProcessException(string message) : Exception(message);
