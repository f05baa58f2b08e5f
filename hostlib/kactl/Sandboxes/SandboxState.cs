namespace KataAgent.Kactl.Sandboxes;

/// <summary>Whether a sandbox in the run directory still has its VM.</summary>
public enum SandboxState
{
    /// <summary>Its qemu process is alive.</summary>
    Running,

    /// <summary>Its qemu process is gone (or the pid now belongs to something else): only the state is left.</summary>
    Stopped,

    /// <summary>No sandbox.json yet: being booted, or the kactl that booted it died before writing it.</summary>
    Incomplete,
}
