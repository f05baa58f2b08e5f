namespace KataAgent.Agent.Network;

/// <summary>A network request field the guest cannot apply; becomes INVALID_ARGUMENT with the field path first.</summary>
public sealed class NetworkConfigException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;

    public string Problem { get; } = problem;
}
