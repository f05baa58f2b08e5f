namespace KataAgent.Kactl.Sandboxes;

/// <summary>Whether a sandbox in the run directory still has its VM, as seen when it was listed (not what is stored: that is <see cref="RunRecord"/>).</summary>
public enum SandboxLiveness
{
    /// <summary>Its qemu process is alive (<see cref="KataAgent.Host.Vm.QemuVm.IsRunningIn"/>).</summary>
    Running,

    /// <summary>Its qemu process is gone (or the pid now belongs to something else): only the state is left.</summary>
    Stopped,

    /// <summary>No sandbox.json yet: being booted, or the kactl that booted it died before writing it.</summary>
    Incomplete,
}
