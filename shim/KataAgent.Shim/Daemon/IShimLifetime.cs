namespace KataAgent.Shim.Daemon;

/// <summary>The daemon's lifetime as the task service sees it.</summary>
internal interface IShimLifetime
{
    /// <summary>Ends the daemon once the current answers are written (Shutdown with no task left, or the VM gone).</summary>
    void RequestExit();

    /// <summary>Cancelled when the daemon is ending (SIGTERM, or <see cref="RequestExit"/>).</summary>
    CancellationToken Stopping { get; }
}
