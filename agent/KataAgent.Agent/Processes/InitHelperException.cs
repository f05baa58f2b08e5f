namespace KataAgent.Agent.Processes;

/// <summary>The spawn-chain helper kata-agent-init is missing or cannot be loaded: the agent does not start.</summary>
public sealed class InitHelperException(string message) : Exception(message);
