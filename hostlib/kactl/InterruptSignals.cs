using System.Runtime.InteropServices;

namespace KataAgent.Kactl;

/// <summary>
/// SIGINT and SIGTERM for the commands that run a container process (<c>run</c>, <c>exec</c>):
/// instead of ending kactl they are counted, so the command can pass the interrupt on to the
/// container and clean up. The first one cancels <see cref="First"/>, any later one
/// <see cref="Again"/> (stop waiting for a graceful exit).
/// </summary>
public sealed class InterruptSignals : IDisposable
{
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;
    private readonly CancellationTokenSource _first = new();
    private readonly CancellationTokenSource _again = new();
    private int _count;

    private InterruptSignals()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first SIGINT or SIGTERM.</summary>
    public CancellationToken First => _first.Token;

    /// <summary>Cancelled by the second (and any later) one.</summary>
    public CancellationToken Again => _again.Token;

    /// <summary>True once a signal came.</summary>
    public bool Interrupted => Volatile.Read(ref _count) > 0;

    /// <summary>Starts catching SIGINT and SIGTERM; dispose to restore their default (ending kactl).</summary>
    public static InterruptSignals Register() => new();

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        var target = Interlocked.Increment(ref _count) == 1 ? _first : _again;
        // Not on the signal thread: cancellation runs the waiting code's continuations.
        _ = Task.Run(target.Cancel);
    }
}
