using KataAgent.Shim.Daemon;

namespace KataAgent.VmTests.Shim;

/// <summary>The daemon's lifetime as a test sees it: whether the task service asked the daemon to end.</summary>
internal sealed class ExitRecorder : IShimLifetime
{
    private readonly CancellationTokenSource _stopping = new();

    public int Requests { get; private set; }

    public CancellationToken Stopping => _stopping.Token;

    public void RequestExit()
    {
        Requests++;
        _stopping.Cancel();
    }
}
