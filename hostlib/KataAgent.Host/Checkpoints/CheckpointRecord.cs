using System.Text.Json.Serialization;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Checkpoints;

/// <summary>records/sandbox.json: the sandbox, its VM's command line and hot-plugged devices, its containers and processes.</summary>
internal sealed record CheckpointRecord
{
    public required string Id { get; init; }

    public required string Hostname { get; init; }

    public bool HasDns { get; init; }

    [JsonConverter(typeof(JsonStringEnumConverter<RootfsMode>))]
    public RootfsMode RootfsMode { get; init; } = RootfsMode.Blk;

    /// <summary>The VM's options as it ran (paths absolute; disks and NICs as they were).</summary>
    public required QemuOptions Vm { get; init; }

    public required bool UsesKvm { get; init; }

    public required QemuHotplugState Hotplug { get; init; }

    /// <summary>Where each disk's copy is in the checkpoint: cold disks in order, then hot-plugged ones by port.</summary>
    public required IReadOnlyList<CheckpointDisk> Disks { get; init; }

    /// <summary>The pod network's namespace, if the sandbox had one.</summary>
    public string? NetworkNamespacePath { get; init; }

    public required IReadOnlyList<CheckpointContainer> Containers { get; init; }
}

/// <summary>A disk of the VM and its copy in the checkpoint.</summary>
/// <param name="Port">Its root port: a cold disk's index, or a hot-plugged disk's port.</param>
/// <param name="Cold">Whether it was attached at boot (<see cref="QemuOptions.Disks"/>).</param>
/// <param name="File">The copy, relative to the checkpoint directory ("disks/NAME").</param>
internal sealed record CheckpointDisk(int Port, bool Cold, string File);

/// <summary>A container the host held, with its processes.</summary>
internal sealed record CheckpointContainer(string Id, IReadOnlyList<CheckpointProcess> Processes);

/// <summary>
/// A process and how much of its output the host had received when the checkpoint was taken (null when not known),
/// so that a restored handle resumes exactly there.
/// </summary>
internal sealed record CheckpointProcess(string ExecId, long? StdoutOffset, long? StderrOffset);
