namespace KataAgent.Kactl.Sandboxes;

/// <summary>One sandbox directory in the run directory, with what its sandbox.json says and whether its VM is alive.</summary>
/// <param name="Id">The directory's name.</param>
/// <param name="Directory">The sandbox's state directory (sockets, logs, sandbox.json).</param>
/// <param name="Record">sandbox.json, or null when there is none (yet).</param>
/// <param name="State">Running, stopped or incomplete, as seen just now.</param>
public sealed record SandboxEntry(string Id, string Directory, RunRecord? Record, SandboxLiveness State)
{
    /// <summary>The agent's address: the host end of its virtio-serial port, a unix socket qemu serves.</summary>
    public string AgentAddressText => "serial://" + Path.Combine(Directory, "agent.sock");

    /// <summary>The VM's debug console socket (qemu's chardev server).</summary>
    public string ConsoleSocketPath => Path.Combine(Directory, "console.sock");

    /// <summary>The copy of the agent's log lines qemu writes from the agent.log.0 port.</summary>
    public string AgentLogPath => Path.Combine(Directory, "agent.log");

    /// <summary>When it was created: sandbox.json's createdAt, else the directory's time.</summary>
    public DateTimeOffset CreatedAt => Record?.CreatedAt ?? new DateTimeOffset(System.IO.Directory.GetCreationTimeUtc(Directory), TimeSpan.Zero);
}
