using System.Runtime.InteropServices;
using KataAgent.Host;
using KataAgent.Host.Containers;

namespace KataAgent.Kactl;

/// <summary>
/// Runs one container process with kactl's own stdio attached, for <c>run</c> and <c>exec</c>:
/// stdout and stderr are copied out as they arrive, kactl's stdin goes in (its end closes the
/// process's stdin), and with a terminal the local terminal is raw while the process runs and
/// its size follows SIGWINCH. An interrupt (SIGINT/SIGTERM to kactl) becomes SIGTERM for the
/// process, then, after <see cref="StopTimeout"/> or a second interrupt, <see cref="Kill"/>.
/// Returns the process's exit status.
/// </summary>
public sealed class ProcessSession
{
    private const int CopyBufferSize = 64 * 1024;
    private const int SIGTERM = 15;

    /// <summary>The process (stdio attached or attachable).</summary>
    public required ContainerProcess Process { get; init; }

    /// <summary>The process has a terminal (Process.Terminal): raw mode and resizes.</summary>
    public required bool Terminal { get; init; }

    /// <summary>The signals the command registered before it created anything.</summary>
    public required InterruptSignals Signals { get; init; }

    /// <summary>Makes the process run (StartContainer); null when it already runs (exec).</summary>
    public Func<Task>? Start { get; init; }

    /// <summary>The last resort after an interrupt (RemoveContainer, or SIGKILL).</summary>
    public required Func<Task> Kill { get; init; }

    /// <summary>How long to wait after SIGTERM before <see cref="Kill"/>.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Problems with stdio that did not stop the process (printed once the terminal is restored).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Warnings { get; } = new();

    public async Task<int> RunAsync()
    {
        LocalTerminal? raw = null;
        PosixSignalRegistration? resizes = null;
        try
        {
            if (Terminal && LocalTerminal.IsTerminal(StandardStreams.Stdin))
            {
                raw = LocalTerminal.MakeRaw(StandardStreams.Stdin);
            }
            var stdout = CopyOutAsync(Process.Stdout, StandardStreams.Stdout, "stdout");
            var stderr = CopyOutAsync(Process.Stderr, StandardStreams.Stderr, "stderr");
            if (Start is not null && !Signals.Interrupted)
            {
                await Start().ConfigureAwait(false);
            }
            if (Terminal && !OperatingSystem.IsWindows() && LocalTerminal.Size() is { } size)
            {
                await ResizeAsync(size).ConfigureAwait(false);
                resizes = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
                {
                    if (LocalTerminal.Size() is { } now)
                    {
                        _ = ResizeAsync(now);
                    }
                });
            }
            StartStdinPump();
            int status = await WaitOrStopAsync(Process.WaitAsync()).ConfigureAwait(false);
            await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
            return status;
        }
        finally
        {
            resizes?.Dispose();
            raw?.Dispose();
        }
    }

    private async Task<int> WaitOrStopAsync(Task<int> exit)
    {
        var interrupted = Task.Delay(Timeout.Infinite, Signals.First);
        if (await Task.WhenAny(exit, interrupted).ConfigureAwait(false) == exit)
        {
            return await exit.ConfigureAwait(false);
        }
        try
        {
            await Process.SignalAsync(SIGTERM).ConfigureAwait(false);
        }
        catch (KataAgentException)
        {
            // Already gone, or not started: the kill below settles it.
        }
        var again = Task.Delay(Timeout.Infinite, Signals.Again);
        await Task.WhenAny(exit, Task.Delay(StopTimeout), again).ConfigureAwait(false);
        if (!exit.IsCompleted)
        {
            try
            {
                await Kill().ConfigureAwait(false);
            }
            catch (KataAgentException e)
            {
                Warnings.Enqueue($"stopping {Describe()} failed: {e.Message}");
            }
        }
        return await exit.ConfigureAwait(false);
    }

    private async Task ResizeAsync((ushort Rows, ushort Columns) size)
    {
        try
        {
            await Process.ResizeAsync(size.Rows, size.Columns).ConfigureAwait(false);
        }
        catch (KataAgentException)
        {
            // The process may be gone already; a size is never worth failing for.
        }
    }

    /// <summary>kactl's stdin into the process, on a thread of its own: a read from a terminal cannot be
    /// cancelled, and is simply abandoned when the process ends first.</summary>
    private void StartStdinPump()
    {
        var stdin = Process.Stdin;
        var thread = new Thread(() =>
        {
            var buffer = new byte[CopyBufferSize];
            try
            {
                while (true)
                {
                    int n = StandardStreams.Read(StandardStreams.Stdin, buffer);
                    if (n == 0)
                    {
                        break;
                    }
                    stdin.WriteAsync(buffer.AsMemory(0, n)).AsTask().GetAwaiter().GetResult();
                }
                stdin.CompleteAsync().GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // The process exited, no longer reads, or was detached: its input has nowhere to go.
                // (Never an unhandled exception on this thread: that would end kactl.)
            }
        })
        {
            IsBackground = true,
            Name = "kactl stdin",
        };
        thread.Start();
    }

    private async Task CopyOutAsync(Stream source, int fd, string name)
    {
        var buffer = new byte[CopyBufferSize];
        bool open = true;
        try
        {
            while (true)
            {
                int n = await source.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                // Once our reader is gone (EPIPE) keep draining, so the process is never held by it.
                if (open)
                {
                    open = StandardStreams.WriteAll(fd, buffer.AsSpan(0, n));
                }
            }
        }
        catch (IOException e)
        {
            Warnings.Enqueue($"{name} of {Describe()}: {e.Message}");
        }
        catch (ObjectDisposedException)
        {
            // Detached while failing (the start failed and the container is being removed).
        }
    }

    private string Describe() => Process.ExecId.Length == 0 || Process.ExecId == Process.ContainerId
        ? $"container '{Process.ContainerId}'"
        : $"process '{Process.ExecId}' of container '{Process.ContainerId}'";
}
