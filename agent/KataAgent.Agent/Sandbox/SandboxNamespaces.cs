namespace KataAgent.Agent.Sandbox;

/// <summary>
/// The namespaces containers of the sandbox share (set by CreateSandbox): UTS and IPC always,
/// PID when the sandbox was created with sandbox_pidns. Null paths mean "none yet".
/// </summary>
public sealed class SandboxNamespaces
{
    public string? UtsPath { get; internal set; }

    public string? IpcPath { get; internal set; }

    public string? PidPath { get; internal set; }

    internal void Clear()
    {
        UtsPath = IpcPath = PidPath = null;
    }
}
