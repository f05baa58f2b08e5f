using KataAgent.Host.Vm;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>One sandbox directory in the run directory, with what its sandbox.json says and whether its VM is alive.</summary>
/// <param name="Id">The directory's name.</param>
/// <param name="Directory">The sandbox's state directory (sockets, logs, sandbox.json).</param>
/// <param name="Record">sandbox.json, or null when there is none (yet).</param>
/// <param name="State">Running, stopped or incomplete, as seen just now.</param>
public sealed record SandboxEntry(string Id, string Directory, RunRecord? Record, SandboxLiveness State)
{
    private readonly Lazy<QemuVmAddresses?> _addresses = new(() => QemuVm.ReadAddresses(Directory));

    /// <summary>
    /// The addresses of the VM's agent, debug console and log, as the VM's state (vm.json) records them: vsock ports
    /// (hybrid vsock through the VM's backend socket, or AF_VSOCK) or the serial channel's sockets. Null when the VM
    /// has no state (yet).
    /// </summary>
    public QemuVmAddresses? Addresses => _addresses.Value;

    /// <summary>The copy of the agent's log lines qemu writes from the agent.log.0 port (on either channel).</summary>
    public string AgentLogPath => Path.Combine(Directory, "agent.log");

    /// <summary>When it was created: sandbox.json's createdAt, else the directory's time.</summary>
    public DateTimeOffset CreatedAt => Record?.CreatedAt ?? new DateTimeOffset(System.IO.Directory.GetCreationTimeUtc(Directory), TimeSpan.Zero);
}
