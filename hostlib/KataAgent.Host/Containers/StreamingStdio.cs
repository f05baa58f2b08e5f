using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Containers;

/// <summary>
/// A process's stdio over one <c>kataagent.v1.Streaming/Attach</c> call: stdin and close_stdin go
/// up in order; stdout and stderr come down as the process writes them and are handed to two
/// pipes, each read as a <see cref="Stream"/>. Each pipe holds at most
/// <see cref="PauseThreshold"/> bytes; beyond that the stream is not read further (HTTP/2 flow
/// control then holds the agent, and the agent the process), so read both outputs, or dispose the
/// one you do not want (its data is then discarded).
/// </summary>
internal sealed class StreamingStdio : IProcessStdio
{
    private const int StdinChunk = 256 * 1024;
    private const long PauseThreshold = 1024 * 1024;
    private static readonly PipeOptions Options = new(pauseWriterThreshold: PauseThreshold, resumeWriterThreshold: PauseThreshold / 2, useSynchronizationContext: false);

    private readonly string _description;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly AsyncDuplexStreamingCall<AttachRequest, AttachResponse> _call;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Pipe _stdout = new(Options);
    private readonly Pipe _stderr = new(Options);
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _started;
    private readonly Task _reader;
    private bool _inputClosed;
    private int _disposed;
    private long _stdoutReceived;
    private long _stderrReceived;

    /// <param name="client">The agent.</param>
    /// <param name="containerId">The container.</param>
    /// <param name="execId">The process (empty: the init process).</param>
    /// <param name="resumeFrom">Resume the outputs at these offsets (AttachStart.resume): what this host received
    /// before its connection broke, so that the agent sends again what was lost in flight and nothing twice.</param>
    public StreamingStdio(AgentClient client, string containerId, string execId, ProcessOutputOffsets? resumeFrom = null)
    {
        _description = Describe(containerId, execId);
        var streaming = new Streaming.StreamingClient(client.CallInvoker);
        _call = streaming.Attach(new CallOptions(cancellationToken: _lifetime.Token));
        Stdout = _stdout.Reader.AsStream();
        Stderr = _stderr.Reader.AsStream();
        var start = new AttachStart { ContainerId = containerId, ExecId = execId };
        if (resumeFrom is { } offsets)
        {
            start.Resume = true;
            start.StdoutOffset = (ulong)offsets.Stdout;
            start.StderrOffset = (ulong)offsets.Stderr;
            _stdoutReceived = offsets.Stdout;
            _stderrReceived = offsets.Stderr;
        }
        _started = SendAsync(new AttachRequest { Start = start }, CancellationToken.None);
        _reader = Task.Run(ReadAsync);
    }

    public bool IsStreaming => true;

    public Stream Stdout { get; }

    public Stream Stderr { get; }

    /// <summary>The bytes of each output received so far (handed to the pipes), counted from the process's start when the stream began there or resumed.</summary>
    public ProcessOutputOffsets Received => new(Interlocked.Read(ref _stdoutReceived), Interlocked.Read(ref _stderrReceived));

    /// <summary>The exit status from the stream's last message (after both outputs are drained).</summary>
    public Task<int> Exit => _exit.Task;

    public async Task WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await StartedAsync().ConfigureAwait(false);
        while (!data.IsEmpty)
        {
            var chunk = data[..Math.Min(data.Length, StdinChunk)];
            data = data[chunk.Length..];
            if (Volatile.Read(ref _inputClosed))
            {
                throw new IOException($"stdin of {_description} is closed");
            }
            await SendAsync(new AttachRequest { Stdin = ByteString.CopyFrom(chunk.Span) }, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task CloseStdinAsync(CancellationToken cancellationToken)
    {
        await StartedAsync().ConfigureAwait(false);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_inputClosed)
            {
                return;
            }
            _inputClosed = true;
            await _call.RequestStream.WriteAsync(new AttachRequest { CloseStdin = new CloseStdin() }, cancellationToken).ConfigureAwait(false);
            // Nothing else goes up this stream (resizes are unary calls, see ContainerProcess.ResizeAsync).
            await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            throw Failed("closing stdin", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _lifetime.Cancel();
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The reader never throws; belt and braces for a dispose.
        }
        _call.Dispose();
        _lifetime.Dispose();
    }

    /// <summary>The start request must be on the wire before anything else; its failure is every later call's failure.</summary>
    private Task StartedAsync() => _started;

    private async Task SendAsync(AttachRequest request, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed(request.KindCase == AttachRequest.KindOneofCase.Start ? "attaching" : "writing stdin", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task ReadAsync()
    {
        Exception? error = null;
        try
        {
            var responses = _call.ResponseStream;
            while (await responses.MoveNext(_lifetime.Token).ConfigureAwait(false))
            {
                var response = responses.Current;
                switch (response.KindCase)
                {
                    case AttachResponse.KindOneofCase.Stdout:
                        // A completed reader (stream disposed) makes this a no-op: the data is discarded.
                        // Counted first: once written, the bytes are the reader's even while the write waits for room.
                        Interlocked.Add(ref _stdoutReceived, response.Stdout.Length);
                        await _stdout.Writer.WriteAsync(response.Stdout.Memory, _lifetime.Token).ConfigureAwait(false);
                        break;
                    case AttachResponse.KindOneofCase.Stderr:
                        Interlocked.Add(ref _stderrReceived, response.Stderr.Length);
                        await _stderr.Writer.WriteAsync(response.Stderr.Memory, _lifetime.Token).ConfigureAwait(false);
                        break;
                    case AttachResponse.KindOneofCase.Exit:
                        _exit.TrySetResult(response.Exit.Status);
                        break;
                }
            }
        }
        catch (Exception) when (_exit.Task.IsCompleted || _lifetime.IsCancellationRequested)
        {
            // After the exit message the call's own end (or our cancel) does not matter.
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // The container was removed (or the process forgotten) before we attached: its output is
            // gone, so the streams just end, as with ReadStdout; WaitProcess reports the NOT_FOUND.
        }
        catch (Exception e)
        {
            error = Failed("reading output", e);
        }
        finally
        {
            if (!_exit.Task.IsCompleted)
            {
                _exit.TrySetException(error ?? (_lifetime.IsCancellationRequested
                    ? new OperationCanceledException($"stdio of {_description} was detached")
                    : new IOException($"the stdio stream of {_description} ended without an exit status")));
                _ = _exit.Task.Exception; // observed: WaitProcess is the usual source of the status
            }
            await _stdout.Writer.CompleteAsync(error).ConfigureAwait(false);
            await _stderr.Writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private IOException Failed(string what, Exception e)
    {
        string detail = e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
        string gone = _exit.Task.IsCompletedSuccessfully ? $" (the process has exited with status {_exit.Task.Result})" : "";
        return new IOException($"{what} for {_description} failed{gone}: {detail}", e);
    }

    internal static string Describe(string containerId, string execId) =>
        execId.Length == 0 ? $"the init process of container '{containerId}'" : $"process '{execId}' of container '{containerId}'";
}
