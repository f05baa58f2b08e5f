namespace KataAgent.Host.Pods;

/// <summary>How the guest encrypts a block volume: with a key made in the guest (ephemeral) or one given to the guest alone.</summary>
public sealed record BlockVolumeEncryption
{
    /// <summary>A key made in the guest that never leaves it: the data lasts as long as the pod.</summary>
    public bool Ephemeral { get; init; }

    /// <summary>A key (32 or 64 bytes) sent to the guest only; null with <see cref="Ephemeral"/>.</summary>
    public ReadOnlyMemory<byte>? Key { get; init; }
}
