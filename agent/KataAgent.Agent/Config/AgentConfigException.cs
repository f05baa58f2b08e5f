namespace KataAgent.Agent.Config;

/// <summary>A configuration value is invalid; the message names the option and the value.</summary>
public sealed class AgentConfigException(string message) : Exception(message);
