namespace KataAgent.Host.Images;

/// <summary>
/// What the caller changes of an image's process, as <c>docker run</c> and Kubernetes do (null keeps the image's):
/// <see cref="Entrypoint"/> replaces the image's Entrypoint and drops its Cmd, <see cref="Args"/> replaces Cmd,
/// <see cref="Env"/> is added to the image's environment (overriding by name), <see cref="User"/> and
/// <see cref="WorkingDirectory"/> replace the image's.
/// </summary>
public sealed record ImageProcessOverrides
{
    /// <summary>The entrypoint (docker's <c>--entrypoint</c>, Kubernetes' <c>command</c>), or null for the image's.</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>The arguments (the words after the image in <c>docker run</c>, Kubernetes' <c>args</c>), or null for the image's Cmd.</summary>
    public IReadOnlyList<string>? Args { get; init; }

    /// <summary><c>NAME=value</c> entries added to the image's environment; one with a name the image sets replaces it.</summary>
    public IReadOnlyList<string>? Env { get; init; }

    /// <summary><c>user</c>, <c>uid</c>, <c>user:group</c> or <c>uid:gid</c>, names resolved in the image's /etc/passwd and /etc/group; null for the image's.</summary>
    public string? User { get; init; }

    /// <summary>An absolute working directory, or null for the image's (<c>/</c> when it names none).</summary>
    public string? WorkingDirectory { get; init; }
}
