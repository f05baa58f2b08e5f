namespace KataAgent.Host.Containers;

/// <summary>How <see cref="Container"/> and <see cref="ContainerProcess"/> drive an agent.</summary>
public sealed record ContainerOptions
{
    /// <summary>Smallest <see cref="ReadChunkSize"/> (64 KiB).</summary>
    public const int MinReadChunkSize = 64 * 1024;

    /// <summary>Largest <see cref="ReadChunkSize"/> (1 MiB, the largest chunk an agent returns).</summary>
    public const int MaxReadChunkSize = 1024 * 1024;

    /// <summary>
    /// Carry process stdio over the <c>kataagent.v1.Streaming/Attach</c> extension when the agent
    /// has it (one bidirectional stream per process; detected once per <see cref="AgentClient"/>
    /// with <c>Health.Check("kataagent.v1")</c>). False forces Kata's unary calls (ReadStdout /
    /// ReadStderr long polls, WriteStdin, CloseStdin) even when the extension is there. Default true.
    /// </summary>
    public bool UseStreaming { get; init; } = true;

    /// <summary>
    /// Attach every process's stdio as soon as it exists (the init process right after
    /// CreateContainer, so before StartContainer; an exec'd process right after ExecProcess).
    /// False attaches on the first use of <see cref="ContainerProcess.Stdin"/>,
    /// <see cref="ContainerProcess.Stdout"/> or <see cref="ContainerProcess.Stderr"/>. Either way
    /// nothing is lost: the agent keeps output until it is read. Default true.
    /// </summary>
    public bool AttachStdio { get; init; } = true;

    /// <summary>Bytes asked for per ReadStdout/ReadStderr long poll in the unary mode, clamped to
    /// <see cref="MinReadChunkSize"/>..<see cref="MaxReadChunkSize"/>. Default 256 KiB.</summary>
    public int ReadChunkSize { get; init; } = 256 * 1024;

    /// <summary>
    /// How long <see cref="Container.DisposeAsync"/> (and <see cref="Container.RemoveAsync"/>
    /// without a timeout) lets RemoveContainer wait for the processes to die, rounded up to whole
    /// seconds. <see cref="TimeSpan.Zero"/> waits for ever (Kata's meaning of 0). Default 10 s.
    /// </summary>
    public TimeSpan RemoveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <see cref="Sandboxes.Sandbox.CreateContainerAsync"/> only: the container joins the pod's shared PID namespace
    /// (CreateContainer's <c>sandbox_pidns</c>; Kubernetes' <c>shareProcessNamespace</c>). The agent holds that namespace
    /// with a pause process as its PID 1, started for the first container that asks and kept until the sandbox is
    /// destroyed, so the pod's containers see each other's processes and survive each other's exits. Default false: a
    /// PID namespace of the container's own (unless the sandbox was created sharing one for every container).
    /// </summary>
    public bool SandboxPidNamespace { get; init; }

    internal int EffectiveReadChunkSize => Math.Clamp(ReadChunkSize, MinReadChunkSize, MaxReadChunkSize);
}
