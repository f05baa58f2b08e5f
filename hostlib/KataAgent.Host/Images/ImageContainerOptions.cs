using KataAgent.Image.Pull;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Images;

/// <summary>How <see cref="Sandboxes.Sandbox.CreateContainerFromImageAsync(string, HostImages, string, ImageContainerOptions?, Containers.ContainerOptions?, CancellationToken)"/> makes a container of an image.</summary>
public sealed record ImageContainerOptions
{
    /// <summary>What the caller changes of the image's process (entrypoint, args, env, user, working directory).</summary>
    public ImageProcessOverrides Overrides { get; init; } = new();

    /// <summary>Give the process a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>
    /// Called with the container's spec before CreateContainer: <see cref="Sandboxes.ContainerSpecs.Default(IReadOnlyList{string}, bool)"/>
    /// with the image's process put in (<see cref="Sandboxes.ContainerSpecs.ApplyImageProcess"/>), for the caller to add
    /// mounts, resources, a console size, annotations, or to read the process it will run.
    /// </summary>
    public Action<Spec>? EditSpec { get; init; }

    /// <summary>Hears each layer's unpacking.</summary>
    public IProgress<PullProgress>? Progress { get; init; }
}
