using KataAgent.Host.Vm;

namespace KataAgent.Kactl;

/// <summary>What <c>kactl run -- CMD…</c> was asked for, checked and with the defaults filled in.</summary>
public sealed record VmRunRequest
{
    public required IReadOnlyList<string> Args { get; init; }

    public required string KernelPath { get; init; }

    public required string InitrdPath { get; init; }

    /// <summary>The rootfs directory (<c>--rootfs</c> or the default), or null for an image run.</summary>
    public string? RootfsDirectory { get; init; }

    /// <summary>The image to run (<c>kactl run IMAGE</c>), or null for a rootfs run.</summary>
    public string? Image { get; init; }

    /// <summary>When the image is pulled (<c>--pull</c>).</summary>
    public KataAgent.Host.Images.PullPolicy PullPolicy { get; init; }

    /// <summary>Pull the image inside the VM (<c>--pull guest</c>), not into the host's store.</summary>
    public bool GuestPull { get; init; }

    /// <summary>The image's platform (<c>--platform</c>), or null for this machine's.</summary>
    public KataAgent.Image.Manifests.Platform? Platform { get; init; }

    /// <summary>
    /// What the command line changes of the process: the command after <c>--</c> (as the image's args, or the whole
    /// command of a rootfs run), <c>--entrypoint</c>, <c>--env</c>, <c>--user</c>, <c>--workdir</c>.
    /// </summary>
    public KataAgent.Host.Images.ImageProcessOverrides Overrides { get; init; } = new();

    /// <summary>How image progress shows on stderr.</summary>
    public KataAgent.Kactl.Images.PullDisplay Display { get; init; }

    /// <summary>How the container gets <see cref="RootfsDirectory"/> (<c>--rootfs-mode</c>).</summary>
    public required KataAgent.Host.Sandboxes.RootfsMode RootfsMode { get; init; }

    public required int Cpus { get; init; }

    public required int MemoryMiB { get; init; }

    /// <summary>Give the process a terminal.</summary>
    public required bool Terminal { get; init; }

    /// <summary>Leave the VM running and print its id.</summary>
    public required bool Detach { get; init; }

    /// <summary>The sandbox id asked for, or null for a fresh one.</summary>
    public string? Id { get; init; }

    /// <summary>Print progress lines on stderr.</summary>
    public required bool Progress { get; init; }

    public required TimeSpan StopTimeout { get; init; }

    public required bool UseStreaming { get; init; }

    /// <summary>vsock (the default) or serial.</summary>
    public QemuAgentChannel AgentChannel { get; init; } = QemuAgentChannel.Vsock;
}
