using KataAgent.Host.Checkpoints;
using KataAgent.Host.Network;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>
    /// Checkpoints the sandbox into <paramref name="directory"/> (created; must not exist or be empty): the VM's memory
    /// and device state (QMP <c>stop</c>, <c>migrate</c> to a socket this library reads, zstd-compressed and hashed as it
    /// streams), the containers' disk images (reflinked where the filesystem can, copied sparse otherwise), the
    /// sandbox's records (its state, the VM's options and hot-plugged devices, the network journal) and a manifest with
    /// the format version, the agent's and qemu's versions and every file's SHA-256. A VM with a device qemu cannot
    /// migrate (a virtio-fs share, the vhost-user-vsock device) is refused before anything is paused.
    /// Then the sandbox runs on (<see cref="SandboxCheckpointOptions.LeaveRunning"/>) or is stopped and torn down.
    /// </summary>
    /// <exception cref="CheckpointException">A device cannot migrate (nothing was touched), the directory is in use,
    /// or the save failed (the sandbox is resumed and the partial directory removed).</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    public Task<SandboxCheckpoint> CheckpointAsync(string directory, SandboxCheckpointOptions options, IProgress<CheckpointProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_finished, this);
        CheckpointValidation.Validate(options);
        return CheckpointCoreAsync(Path.GetFullPath(directory), options, progress, ct);
    }

    /// <summary>
    /// Restores a checkpoint <see cref="CheckpointAsync"/> wrote: the manifest and every file's checksum are checked
    /// first (a corrupt, truncated or missing file is named, and nothing is started); the disks are copied into the new
    /// state directory; qemu starts with the checkpointed command line and every hot-plugged device (vCPUs, DIMMs,
    /// disks, NICs) and loads the state; the VM runs on where it stopped; the agent is reconnected, the guest's clock set
    /// from the host's and its random device reseeded. Processes keep running; their output that the checkpointed
    /// sandbox's host had not read is still in the guest, for <see cref="OpenContainerAsync"/>'s handles to read.
    /// Several restores of one checkpoint run side by side, each under its own id and state directory.
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint is corrupt, truncated or of another format, or the VM did
    /// not come back (nothing is left running).</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="PodNetworkException">The pod network could not be wired in the target namespace.</exception>
    public static Task<Sandbox> RestoreAsync(string directory, SandboxRestoreOptions options, IProgress<CheckpointProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        CheckpointValidation.Validate(options);
        return RestoreCoreAsync(Path.GetFullPath(directory), options, progress, ct);
    }

    private Task<SandboxCheckpoint> CheckpointCoreAsync(string directory, SandboxCheckpointOptions options, IProgress<CheckpointProgress>? progress, CancellationToken ct) =>
        throw new CheckpointException("checkpoint is being built");

    private static Task<Sandbox> RestoreCoreAsync(string directory, SandboxRestoreOptions options, IProgress<CheckpointProgress>? progress, CancellationToken ct) =>
        throw new CheckpointException("restore is being built");
}
