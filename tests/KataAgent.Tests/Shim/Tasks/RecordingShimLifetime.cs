using KataAgent.Shim.Daemon;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>A daemon lifetime that records the task service's exit request.</summary>
internal sealed class RecordingShimLifetime : IShimLifetime
{
    private readonly CancellationTokenSource _stopping = new();

    public int ExitRequests { get; private set; }

    public CancellationToken Stopping => _stopping.Token;

    public void RequestExit()
    {
        ExitRequests++;
        _stopping.Cancel();
    }
}
