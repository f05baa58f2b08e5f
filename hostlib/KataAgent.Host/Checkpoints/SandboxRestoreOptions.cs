namespace KataAgent.Host.Checkpoints;

/// <summary>How <see cref="Sandboxes.Sandbox.RestoreAsync"/> brings a checkpoint back.</summary>
public sealed record SandboxRestoreOptions
{
    /// <summary>
    /// The state directory of the restored sandbox (its VM's sockets, logs, disk copies, records): must not exist or be
    /// empty, so that two restores of one checkpoint never share a file.
    /// </summary>
    public required string StateDirectory { get; init; }

    /// <summary>
    /// The restored sandbox's id (letters, digits, '_', '.', '-', up to 128 characters); null keeps the checkpointed
    /// sandbox's. The id names the sandbox on the host (state, kactl); the guest keeps the hostname and the sandbox id
    /// it was created with, as it keeps everything else in its memory.
    /// </summary>
    public string? Id { get; init; }

    /// <summary>
    /// The pod network namespace to restore into (/var/run/netns/NAME). Null: the namespace the sandbox was
    /// checkpointed in, if it had one. The pod's interfaces are wired into the VM again there (the endpoint's taps,
    /// filters or passt made anew, the guest's NICs, MACs and pod IP as they were).
    /// </summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>qemu outlives the caller (see <see cref="Vm.QemuOptions.Detached"/>); null keeps how the sandbox ran.</summary>
    public bool? Detached { get; init; }

    /// <summary>How long the restored VM's agent gets to answer again once the VM runs.</summary>
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
