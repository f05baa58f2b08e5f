using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// A process in a container: the container's init (<see cref="Container.InitProcess"/>) or one
/// started with <see cref="Container.ExecAsync(string, Process, CancellationToken)"/>. Its stdio
/// is three .NET streams; its exit status comes from WaitProcess.
/// </summary>
/// <remarks>
/// Named ContainerProcess, not Process, so that it never collides with the OCI
/// <see cref="Process"/> message (the process spec) it is started from.
/// Stdio uses the <c>kataagent.v1.Streaming/Attach</c> extension when the agent has it and
/// <see cref="ContainerOptions.UseStreaming"/> allows it (<see cref="UsesStreaming"/>), and
/// Kata's unary calls otherwise; both behave the same. Output is consumed: a process has one
/// reader, so read its output through this object only.
/// </remarks>
public sealed class ContainerProcess : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly ContainerOptions _options;
    private readonly CancellationTokenSource _lifetime = new();
    private IProcessStdio? _stdio;
    private ProcessStdinStream? _stdin;
    private Task<int>? _wait;
    private bool _disposed;

    internal ContainerProcess(Container container, string execId, bool useStreaming, ContainerOptions options, bool ownsOutput = true, ProcessOutputOffsets? resumeFrom = null)
    {
        Container = container;
        ExecId = execId;
        UsesStreaming = useStreaming;
        _options = options;
        _ownsOutput = ownsOutput || resumeFrom is not null;
        _resumeFrom = resumeFrom;
    }

    /// <summary>Whether this handle's reader is the process's only one since its start (it made the process, or resumed it at known offsets).</summary>
    private readonly bool _ownsOutput;

    /// <summary>Where a restored handle resumes the outputs (see <see cref="StreamingStdio"/>).</summary>
    private readonly ProcessOutputOffsets? _resumeFrom;

    /// <summary>
    /// The output offsets this host has received, counted from the process's start, or null when they are not known
    /// (a handle opened on a process someone else may have read, or stdio over Kata's unary calls, which cannot resume).
    /// With no stdio attached yet: where it would start (nothing received, or the resume offsets).
    /// </summary>
    internal ProcessOutputOffsets? ReceivedOutput
    {
        get
        {
            lock (_gate)
            {
                if (!_ownsOutput || !UsesStreaming)
                {
                    return null;
                }
                return _stdio is StreamingStdio streaming ? streaming.Received : _resumeFrom ?? new ProcessOutputOffsets(0, 0);
            }
        }
    }

    /// <summary>The container the process runs in.</summary>
    public Container Container { get; }

    /// <summary>The container's id.</summary>
    public string ContainerId => Container.Id;

    /// <summary>The exec id the agent knows the process by; for the init process the one given to
    /// CreateContainer (the container id, as Kata's runtime does), or empty for a container opened
    /// with <see cref="Container.OpenAsync"/>.</summary>
    public string ExecId { get; }

    /// <summary>True when stdio goes over the streaming Attach extension, false for Kata's unary calls.</summary>
    public bool UsesStreaming { get; }

    /// <summary>The process's stdin. Writes go to the process in order; <see cref="ProcessStdinStream.CompleteAsync"/>
    /// or disposing it closes stdin (CloseStdin).</summary>
    public ProcessStdinStream Stdin
    {
        get
        {
            Attach();
            return _stdin!;
        }
    }

    /// <summary>The process's stdout (a terminal process's only output); end of stream when its output ends.
    /// Read it (and <see cref="Stderr"/>), or dispose it to discard it: unread output eventually holds the process.</summary>
    public Stream Stdout => Attach().Stdout;

    /// <summary>The process's stderr; empty for a terminal process.</summary>
    public Stream Stderr => Attach().Stderr;

    /// <summary>Waits for the process to exit and returns its status: the exit code, or 128 + N when signal N killed it.</summary>
    /// <remarks>One WaitProcess long poll per process, started when the process starts and shared by every caller;
    /// cancelling <paramref name="cancellationToken"/> only stops this caller's wait.</remarks>
    /// <exception cref="AgentStatusException">The agent does not know the process (e.g. the container was removed before anyone waited).</exception>
    public Task<int> WaitAsync(CancellationToken cancellationToken = default) => BeginWait().WaitAsync(cancellationToken);

    /// <summary>Sends signal <paramref name="signal"/> (e.g. 15 for SIGTERM) to this process only (SignalProcess with its exec id).</summary>
    /// <remarks>For the init process of a container opened with <see cref="Container.OpenAsync"/> the exec id is empty,
    /// which Kata's API reads as "every process of the container".</remarks>
    public async Task SignalAsync(int signal, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(signal);
        await Container.Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = ContainerId, ExecId = ExecId, Signal = (uint)signal }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the size of the process's terminal (TtyWinResize); fails for a process without a terminal.</summary>
    /// <remarks>Always a unary call, also when stdio streams: its failure is then the caller's to see.</remarks>
    public async Task ResizeAsync(uint rows, uint columns, CancellationToken cancellationToken = default) =>
        await Container.Client.TtyWinResizeAsync(new TtyWinResizeRequest { ContainerId = ContainerId, ExecId = ExecId, Row = rows, Column = columns }, cancellationToken).ConfigureAwait(false);

    /// <summary>Closes the process's stdin (same as <see cref="ProcessStdinStream.CompleteAsync"/>).</summary>
    public Task CloseStdinAsync(CancellationToken cancellationToken = default) => Stdin.CompleteAsync(cancellationToken);

    /// <summary>Detaches: ends the stdio stream or pending long polls and the shared wait. The process keeps running.</summary>
    public async ValueTask DisposeAsync()
    {
        IProcessStdio? stdio;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            stdio = _stdio;
        }
        _lifetime.Cancel();
        if (stdio is not null)
        {
            await stdio.DisposeAsync().ConfigureAwait(false);
        }
        if (_wait is { } wait)
        {
            try
            {
                await wait.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancelled by the detach, or failed: nobody is waiting any more.
            }
        }
        _lifetime.Dispose();
    }

    /// <summary>Opens the process's stdio (once): the Attach call, or the unary streams.</summary>
    internal IProcessStdio Attach()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_stdio is null)
            {
                _stdio = UsesStreaming
                    ? new StreamingStdio(Container.Client, ContainerId, ExecId, _resumeFrom)
                    : new UnaryStdio(Container.Client, ContainerId, ExecId, _options.EffectiveReadChunkSize);
                _stdin = new ProcessStdinStream(() => _stdio);
            }
            return _stdio;
        }
    }

    /// <summary>Starts the shared WaitProcess long poll (once; again after a failure).</summary>
    internal Task<int> BeginWait()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_wait is null || _wait.IsFaulted || _wait.IsCanceled)
            {
                _wait = WaitProcessAsync(_lifetime.Token);
            }
            return _wait;
        }
    }

    private async Task<int> WaitProcessAsync(CancellationToken cancellationToken)
    {
        var response = await Container.Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = ContainerId, ExecId = ExecId }, cancellationToken).ConfigureAwait(false);
        return response.Status;
    }
}
