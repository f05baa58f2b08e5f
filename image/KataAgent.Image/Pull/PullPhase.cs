namespace KataAgent.Image.Pull;

/// <summary>Where one blob of a pull is.</summary>
public enum PullPhase
{
    /// <summary>Not started yet (waiting for a download slot).</summary>
    Waiting,
    /// <summary>Bytes are arriving.</summary>
    Downloading,
    /// <summary>Already in the store: nothing to download.</summary>
    AlreadyStored,
    /// <summary>Downloaded and verified.</summary>
    Done,
    /// <summary>Being unpacked into a rootfs.</summary>
    Unpacking,
    /// <summary>Unpacked.</summary>
    Unpacked,
}
