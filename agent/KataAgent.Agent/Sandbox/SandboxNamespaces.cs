namespace KataAgent.Agent.Sandbox;

/// <summary>
/// The namespaces containers of the sandbox share: UTS and IPC (set by CreateSandbox), and the shared PID
/// namespace, held either by the pause process (<see cref="SandboxPause"/>: CreateSandbox with sandbox_pidns, or the
/// first CreateContainer with sandbox_pidns in a sandbox) or, as in Kata's agent, by the sandbox's first container (its
/// infra container) when there is no pause process. Null paths mean "none yet".
/// </summary>
public sealed class SandboxNamespaces
{
    private readonly Lock _lock = new();
    private string? _infraContainerId;
    private string? _infraPidPath;

    public string? UtsPath { get; internal set; }

    public string? IpcPath { get; internal set; }

    /// <summary>The pause process's PID namespace; null when no pause process runs.</summary>
    public string? PausePidPath { get; private set; }

    /// <summary>
    /// Whether every container joins the pause process's PID namespace (CreateSandbox asked for it), not only those
    /// whose CreateContainer says sandbox_pidns.
    /// </summary>
    public bool EveryContainerJoinsPause { get; private set; }

    /// <summary>The PID namespace a container joins when it asks for none: the pause's when every container joins it.</summary>
    public string? DefaultPidPath => EveryContainerJoinsPause ? PausePidPath : null;

    /// <summary>The sandbox's shared PID namespace: the pause process's, else the infra container's; null when there is none.</summary>
    public string? PidPath
    {
        get
        {
            lock (_lock)
            {
                return PausePidPath ?? _infraPidPath;
            }
        }
    }

    /// <summary>
    /// Records <paramref name="containerId"/> (init pid <paramref name="initPid"/>) as the infra container whose PID
    /// namespace later containers with sandbox_pidns join, when no PID namespace is shared yet.
    /// </summary>
    /// <summary>Records the pause process's PID namespace (<see cref="SandboxPause"/>); it takes the infra container's place.</summary>
    internal void SetPause(string path, bool forEveryContainer)
    {
        lock (_lock)
        {
            PausePidPath = path;
            EveryContainerJoinsPause |= forEveryContainer;
        }
    }

    internal void OfferInfraContainer(string containerId, int initPid)
    {
        lock (_lock)
        {
            if (PausePidPath is null && _infraPidPath is null)
            {
                _infraContainerId = containerId;
                _infraPidPath = $"/proc/{initPid}/ns/pid";
            }
        }
    }

    /// <summary>Forgets the infra container's PID namespace when <paramref name="containerId"/> is that container.</summary>
    internal void ContainerRemoved(string containerId)
    {
        lock (_lock)
        {
            if (_infraContainerId == containerId)
            {
                _infraContainerId = null;
                _infraPidPath = null;
            }
        }
    }

    internal void Clear()
    {
        lock (_lock)
        {
            UtsPath = IpcPath = PausePidPath = null;
            EveryContainerJoinsPause = false;
            _infraContainerId = _infraPidPath = null;
        }
    }
}
