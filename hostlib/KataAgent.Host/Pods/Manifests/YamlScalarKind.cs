namespace KataAgent.Host.Pods.Manifests;

/// <summary>What a YAML scalar is once its tag is resolved, as Kubernetes' YAML reader (go-yaml v2, YAML 1.1) resolves it.</summary>
internal enum YamlScalarKind
{
    /// <summary>null, ~, Null, NULL or nothing: the field is not set.</summary>
    Null,

    /// <summary>true/false, and YAML 1.1's yes/no, on/off, y/n in their spellings.</summary>
    Boolean,

    /// <summary>An integer: decimal, 0x hex, 0o or leading-zero octal, 0b binary, '_' allowed.</summary>
    Integer,

    /// <summary>A floating-point number, .inf or .nan.</summary>
    Float,

    /// <summary>Anything else, and every quoted scalar.</summary>
    String,
}
