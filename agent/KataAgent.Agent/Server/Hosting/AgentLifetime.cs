namespace KataAgent.Agent.Server.Hosting;

/// <summary>
/// The agent's own lifetime, which the web host no longer owns (it may never be built): anything may ask the agent
/// to stop (DestroySandbox, SIGTERM, SIGINT); the entry point waits for that, then drains its listener, stops what
/// runs and, as PID 1, tears the guest down (<see cref="Guest.GuestShutdown"/>).
/// </summary>
internal sealed class AgentLifetime
{
    private readonly CancellationTokenSource _stopRequested = new();
    private readonly TaskCompletionSource _stopRequestedTask = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cancelled once a stop has been asked for.</summary>
    public CancellationToken StopRequested => _stopRequested.Token;

    /// <summary>Asks the agent to stop serving; idempotent, callable from any thread (a signal handler too).</summary>
    public void RequestStop()
    {
        if (_stopRequestedTask.TrySetResult())
        {
            _stopRequested.Cancel();
        }
    }

    /// <summary>Completes once <see cref="RequestStop"/> has been called.</summary>
    public Task WaitForStopRequestAsync() => _stopRequestedTask.Task;
}
