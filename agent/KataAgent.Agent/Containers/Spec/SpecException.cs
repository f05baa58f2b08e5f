namespace KataAgent.Agent.Containers.Spec;

/// <summary>An OCI spec field is invalid; becomes INVALID_ARGUMENT with the field path first.</summary>
public sealed class SpecException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}
