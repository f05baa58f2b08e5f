using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// What the front-end set up for one ring (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE), kept across device
/// starts; <see cref="Queue"/> is the running queue while the device is started.
/// </summary>
internal sealed class VhostUserVring(int index) : IDisposable
{
    public int Index { get; } = index;

    /// <summary>The queue size (SET_VRING_NUM); 0 until set.</summary>
    public ushort Size { get; set; }

    /// <summary>The ring addresses (SET_VRING_ADDR), null until set.</summary>
    public VringAddress? Address { get; set; }

    /// <summary>The available index to start from (SET_VRING_BASE); where the queue stood when it last stopped.</summary>
    public ushort Base { get; set; }

    public bool Enabled { get; set; }

    /// <summary>The kick eventfd the loop polls; only the loop thread touches it.</summary>
    public SafeFileDescriptor? Kick { get; private set; }

    public EventNotifier Call { get; } = new();

    public EventNotifier Err { get; } = new();

    public SplitVirtqueue? Queue { get; set; }

    /// <summary>Whether the device may start as far as this ring goes.</summary>
    public bool IsReady => Size != 0 && Address is not null && Kick is not null && Enabled;

    /// <summary>Installs a new kick fd (null: none) and closes the old one.</summary>
    public void ReplaceKick(SafeFileDescriptor? kick)
    {
        Kick?.Dispose();
        Kick = kick;
    }

    /// <summary>Forgets everything the front-end set up (RESET_OWNER, end of the connection); closes the fds.</summary>
    public void Reset()
    {
        Size = 0;
        Address = null;
        Base = 0;
        Enabled = false;
        ReplaceKick(null);
        Call.Replace(null);
        Err.Replace(null);
    }

    public void Dispose() => Reset();
}
