using KataAgent.Image.Pull;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Images;

/// <summary>How <see cref="Sandboxes.Sandbox.CreateContainerFromImageAsync(string, HostImages, string, ImageContainerOptions?, Containers.ContainerOptions?, CancellationToken)"/> makes a container of an image.</summary>
public sealed record ImageContainerOptions
{
    /// <summary>What the caller changes of the image's process (entrypoint, args, env, user, working directory).</summary>
    public ImageProcessOverrides Overrides { get; init; } = new();

    /// <summary>
    /// The spec the image's process is put into (namespaces, mounts, capabilities, terminal, console size); null for
    /// <see cref="Sandboxes.ContainerSpecs.Default(IReadOnlyList{string}, bool)"/> with <see cref="Terminal"/>. Its
    /// process args, env, cwd and user are replaced by the image's; the caller's object is not changed.
    /// </summary>
    public Spec? Spec { get; init; }

    /// <summary>Give the process a terminal (when <see cref="Spec"/> is null).</summary>
    public bool Terminal { get; init; }

    /// <summary>Hears each layer's unpacking.</summary>
    public IProgress<PullProgress>? Progress { get; init; }
}
