namespace KataAgent.Host.Pods;

/// <summary>A Pod manifest or <see cref="PodSpec"/> the library cannot run: <see cref="Field"/> names what is wrong.</summary>
public sealed class PodManifestException : Exception
{
    /// <summary>Creates the error for a field path such as "spec.containers[1].resources.limits.memory".</summary>
    public PodManifestException(string field, string message)
        : base(field.Length == 0 ? message : $"{field}: {message}")
    {
        Field = field;
    }

    /// <summary>The field's path in the manifest, as kubectl names it; empty for the document as a whole.</summary>
    public string Field { get; }
}
