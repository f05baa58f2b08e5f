namespace KataAgent.Protocols.Guest;

/// <summary>
/// The agent's channels as both sides name them: virtio-serial port names (qemu's <c>virtserialport name=</c>,
/// the guest's /sys/class/virtio-ports/*/name). Kata's default vsock ports are <c>AgentAddress.Default*Port</c>.
/// </summary>
public static class GuestPorts
{
    /// <summary>The serial port the agent serves its API on when no vsock is available.</summary>
    public const string AgentChannelName = "agent.channel.0";

    /// <summary>The serial port that gets a copy of every agent log line.</summary>
    public const string LogChannelName = "agent.log.0";

    /// <summary>The serial port of the debug console.</summary>
    public const string DebugConsoleChannelName = "agent.debug_console.0";

}
