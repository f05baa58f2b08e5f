using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// A process's stdio over Kata's own unary calls, for agents without the streaming extension (or
/// when <see cref="ContainerOptions.UseStreaming"/> is false): ReadStdout / ReadStderr long polls,
/// WriteStdin in chunks of at most 1 MiB, CloseStdin.
/// </summary>
internal sealed class UnaryStdio : IProcessStdio
{
    private const int StdinChunk = 1024 * 1024;

    private readonly AgentClient _client;
    private readonly string _containerId;
    private readonly string _execId;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private bool _inputClosed;
    private int _disposed;

    public UnaryStdio(AgentClient client, string containerId, string execId, int readChunkSize)
    {
        _client = client;
        _containerId = containerId;
        _execId = execId;
        Stdout = new UnaryOutputStream(client, containerId, execId, stderr: false, readChunkSize);
        Stderr = new UnaryOutputStream(client, containerId, execId, stderr: true, readChunkSize);
    }

    public bool IsStreaming => false;

    public Stream Stdout { get; }

    public Stream Stderr { get; }

    public async Task WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        await _writeGate.WaitAsync(linked.Token).ConfigureAwait(false);
        try
        {
            while (!data.IsEmpty)
            {
                if (_inputClosed)
                {
                    throw new IOException($"stdin of {StreamingStdio.Describe(_containerId, _execId)} is closed");
                }
                var chunk = data[..Math.Min(data.Length, StdinChunk)];
                var response = await _client.WriteStdinAsync(new WriteStreamRequest { ContainerId = _containerId, ExecId = _execId, Data = ByteString.CopyFrom(chunk.Span) }, linked.Token).ConfigureAwait(false);
                if (response.Len == 0 || response.Len > chunk.Length)
                {
                    throw new IOException($"WriteStdin for {StreamingStdio.Describe(_containerId, _execId)} reported {response.Len} of {chunk.Length} bytes written");
                }
                data = data[(int)response.Len..];
            }
        }
        catch (Exception e) when (e is AgentStatusException or OperationCanceledException && _lifetime.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException($"stdio of {StreamingStdio.Describe(_containerId, _execId)} was detached", e);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Message, e, cancellationToken);
        }
        catch (AgentStatusException e)
        {
            throw new IOException($"WriteStdin for {StreamingStdio.Describe(_containerId, _execId)} failed: {e.StatusCode}: {e.Detail}", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task CloseStdinAsync(CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_inputClosed)
            {
                return;
            }
            _inputClosed = true;
            await _client.CloseStdinAsync(new CloseStdinRequest { ContainerId = _containerId, ExecId = _execId }, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentStatusException e)
        {
            throw new IOException($"CloseStdin for {StreamingStdio.Describe(_containerId, _execId)} failed: {e.StatusCode}: {e.Detail}", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _lifetime.Cancel();
            Stdout.Dispose();
            Stderr.Dispose();
            _lifetime.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}
