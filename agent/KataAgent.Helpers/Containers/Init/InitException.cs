namespace KataAgent.Helpers.Containers.Init;

/// <summary>A container setup step failed; the message goes back to the agent and into the RPC status.</summary>
internal sealed class InitException(string message) : Exception(message);
