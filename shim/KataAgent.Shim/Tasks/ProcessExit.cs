namespace KataAgent.Shim.Tasks;

/// <summary>How a process ended: its status (the exit code, or 128 + the signal that killed it; 255 unknown) and when.</summary>
internal readonly record struct ProcessExit(uint Status, DateTimeOffset ExitedAt)
{
    /// <summary>The status containerd uses when it does not know (a wait that failed, a VM that died under the process).</summary>
    public const uint Unknown = 255;

    /// <summary>128 + SIGKILL: what a process killed with its VM reports.</summary>
    public const uint Killed = 137;
}
