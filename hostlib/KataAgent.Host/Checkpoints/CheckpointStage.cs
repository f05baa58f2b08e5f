namespace KataAgent.Host.Checkpoints;

/// <summary>What a checkpoint or a restore is doing (<see cref="CheckpointProgress.Stage"/>).</summary>
public enum CheckpointStage
{
    /// <summary>Checking the sandbox's devices (checkpoint) or the directory's manifest and checksums (restore).</summary>
    Checking,

    /// <summary>Pausing the VM.</summary>
    Pausing,

    /// <summary>Writing the VM's memory and device state (compressed); <see cref="CheckpointProgress.Bytes"/> counts qemu's.</summary>
    SavingMemory,

    /// <summary>Copying (or reflinking) the containers' disk images.</summary>
    CopyingDisks,

    /// <summary>Writing the sandbox's records and the manifest.</summary>
    WritingRecords,

    /// <summary>Resuming the source VM (<see cref="SandboxCheckpointOptions.LeaveRunning"/>) or tearing it down.</summary>
    Finishing,

    /// <summary>Starting qemu waiting for its state.</summary>
    Starting,

    /// <summary>Loading the VM's memory and device state; <see cref="CheckpointProgress.Bytes"/> counts the compressed file.</summary>
    LoadingMemory,

    /// <summary>Running the VM again and reconnecting its agent (clock, random seed, network).</summary>
    Resuming,

    /// <summary>Done.</summary>
    Done,
}
