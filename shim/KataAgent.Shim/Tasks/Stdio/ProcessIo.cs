using KataAgent.Host.Containers;

namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>
/// The stdio of one process between containerd's FIFOs and the agent: stdin pumped in, stdout and stderr copied out
/// until they end. <see cref="OutputDone"/> is when the process's last output is in the FIFOs (and they are closed):
/// the task service reports an exit only after it, so output written just before an exit is never lost.
/// </summary>
internal sealed class ProcessIo : IAsyncDisposable
{
    private readonly StdinPump? _stdin;
    private readonly BinaryLogger? _logger;
    private readonly Func<CancellationToken, Task> _closeStdin;
    private readonly CancellationTokenSource _cancel = new();
    private int _stdinClosed;
    private int _disposed;

    private ProcessIo(StdinPump? stdin, Func<CancellationToken, Task> closeStdin, Func<CancellationToken, Task> outputs, bool wantsStdin, BinaryLogger? logger)
    {
        _stdin = stdin;
        _logger = logger;
        _closeStdin = closeStdin;
        WantsStdin = wantsStdin;
        OutputDone = outputs(_cancel.Token);
    }

    /// <summary>Completes when stdout and stderr have ended and are flushed to their FIFOs (never faults).</summary>
    public Task OutputDone { get; }

    /// <summary>Whether the client gave a stdin; without one the process's stdin is closed once it runs (runc gives it /dev/null).</summary>
    public bool WantsStdin { get; }

    /// <summary>
    /// Starts the stdio of <paramref name="process"/> (attached already: no output is missed). A <c>binary://</c>
    /// stdout starts its logging binary for <paramref name="id"/> (the container's, or the exec's) in containerd
    /// namespace <paramref name="ns"/> first, and takes both output streams, as containerd's shims decide by stdout's
    /// URI alone.
    /// </summary>
    /// <exception cref="TaskException">A path is wrong or cannot be opened, or the logging binary does not start.</exception>
    public static async Task<ProcessIo> StartAsync(ContainerProcess process, StdioTarget stdin, StdioTarget stdout, StdioTarget stderr, bool terminal,
        string id, string ns, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(process);
        ArgumentNullException.ThrowIfNull(stdout);
        BinaryLogger? logger = stdout.Kind == StdioKind.Binary
            ? await BinaryLogger.StartAsync(stdout, id, ns, cancellationToken).ConfigureAwait(false)
            : null;
        try
        {
            return Start(process.Stdout, terminal ? null : process.Stderr,
                data => process.Stdin.WriteAsync(data).AsTask(), process.CloseStdinAsync, stdin, stdout, terminal ? StdioTarget.None : stderr, logger);
        }
        catch
        {
            if (logger is not null)
            {
                await logger.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>
    /// Starts copying between the targets and the given streams: <paramref name="stdout"/> and <paramref name="stderr"/>
    /// (null: none) out, the stdin FIFO into <paramref name="writeStdin"/>; <paramref name="closeStdin"/> ends the
    /// process's input. With <paramref name="logger"/> (stdout is <c>binary://</c>) both outputs go to it and
    /// <paramref name="stderrTarget"/> is not used; the logger is the ProcessIo's to end.
    /// </summary>
    public static ProcessIo Start(Stream stdout, Stream? stderr, Func<ReadOnlyMemory<byte>, Task> writeStdin, Func<CancellationToken, Task> closeStdin,
        StdioTarget stdinTarget, StdioTarget stdoutTarget, StdioTarget stderrTarget, BinaryLogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(stdinTarget);
        ArgumentNullException.ThrowIfNull(stdoutTarget);
        ArgumentNullException.ThrowIfNull(stderrTarget);
        if (stdinTarget.Kind is StdioKind.File or StdioKind.Binary)
        {
            throw TaskException.InvalidArgument("stdin", $"{(stdinTarget.Kind == StdioKind.File ? "file" : "binary")}:// is for output; stdin is a FIFO");
        }
        if (logger is null && (stdoutTarget.Kind == StdioKind.Binary || stderrTarget.Kind == StdioKind.Binary))
        {
            throw TaskException.InvalidArgument(stdoutTarget.Kind == StdioKind.Binary ? "stdout" : "stderr",
                "a binary:// logger is chosen by the stdout URI and takes both streams (containerd's rule)");
        }
        var stdoutSink = logger?.Stdout ?? OutputSink.Open(stdoutTarget, "stdout");
        OutputSink? stderrSink;
        try
        {
            stderrSink = logger?.Stderr ?? OutputSink.Open(stderrTarget, "stderr");
        }
        catch
        {
            stdoutSink?.Dispose();
            throw;
        }
        StdinPump? pump;
        try
        {
            pump = stdinTarget.Kind == StdioKind.Fifo ? StdinPump.Start(stdinTarget.Path, writeStdin, "stdin") : null;
        }
        catch
        {
            stdoutSink?.Dispose();
            stderrSink?.Dispose();
            throw;
        }
        return new ProcessIo(pump, closeStdin, ct => Task.WhenAll(
            OutputCopier.CopyAsync(stdout, stdoutSink, ct),
            stderr is null ? Drop(stderrSink) : OutputCopier.CopyAsync(stderr, stderrSink, ct)), pump is not null, logger);
    }

    /// <summary>
    /// CloseIO: what the client wrote to stdin before goes in, then the process's stdin is closed. Idempotent.
    /// </summary>
    public async Task CloseStdinAsync(CancellationToken cancellationToken)
    {
        if (_stdin is not null)
        {
            _stdin.RequestClose();
            await _stdin.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        if (Interlocked.Exchange(ref _stdinClosed, 1) == 0)
        {
            await _closeStdin(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the copies (the process is gone, or the task deleted) and closes what is open.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stdin?.Stop();
        _cancel.Cancel();
        await OutputDone.ConfigureAwait(false);
        if (_stdin is not null)
        {
            await _stdin.Completion.ConfigureAwait(false);
        }
        if (_logger is not null)
        {
            // After the output is in its pipes: SIGTERM lets it flush what it read, as runc's shim lets it.
            await _logger.DisposeAsync().ConfigureAwait(false);
        }
        _cancel.Dispose();
    }

    private static Task Drop(OutputSink? sink)
    {
        sink?.Dispose();
        return Task.CompletedTask;
    }
}
