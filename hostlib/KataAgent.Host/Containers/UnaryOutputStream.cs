using Grpc.Core;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Containers;

/// <summary>
/// A process's stdout or stderr read with Kata's ReadStdout / ReadStderr long polls: each read
/// that finds nothing buffered asks the agent for up to the chunk size and waits until the
/// process writes something; an empty answer is end of stream (our agent), and so is Kata's agent's
/// INTERNAL "read meet eof" (its <c>read_stream</c> fails a zero-byte read). Nothing is read ahead, so the
/// agent's bounded buffer is the only buffer. NOT_FOUND (the container was removed) also ends
/// the stream; any other failure is an <see cref="IOException"/> carrying the <see cref="AgentStatusException"/>.
/// </summary>
internal sealed class UnaryOutputStream : Stream
{
    private readonly AgentClient _client;
    private readonly string _containerId;
    private readonly string _execId;
    private readonly bool _stderr;
    private readonly uint _chunkSize;
    private readonly CancellationTokenSource _lifetime = new();
    private ReadOnlyMemory<byte> _pending;
    private bool _ended;
    private int _disposed;

    public UnaryOutputStream(AgentClient client, string containerId, string execId, bool stderr, int chunkSize)
    {
        _client = client;
        _containerId = containerId;
        _execId = execId;
        _stderr = stderr;
        _chunkSize = (uint)chunkSize;
    }

    public override bool CanRead => _disposed == 0;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (_pending.IsEmpty && !_ended)
        {
            _pending = await ReadChunkAsync(cancellationToken).ConfigureAwait(false);
            _ended = _pending.IsEmpty;
        }
        int n = Math.Min(buffer.Length, _pending.Length);
        _pending[..n].CopyTo(buffer);
        _pending = _pending[n..];
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Ends a pending long poll; what the agent still holds stays there.
            _lifetime.Cancel();
            _lifetime.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Kata's agent (src/agent/src/rpc.rs, <c>read_stream</c>) ends a stream with <c>anyhow!("read meet eof")</c>,
    /// sent as INTERNAL with the error's Debug text: that message exactly, or followed by a backtrace when the agent
    /// runs with RUST_BACKTRACE. Nothing else is taken for the end.
    /// </summary>
    internal static bool IsKataEndOfStream(AgentStatusException e) =>
        e.StatusCode == AgentStatusCode.Internal
        && (e.Detail == KataEndOfStream || e.Detail.StartsWith(KataEndOfStream + "\n", StringComparison.Ordinal));

    private const string KataEndOfStream = "read meet eof";

    private async Task<ReadOnlyMemory<byte>> ReadChunkAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        var request = new ReadStreamRequest { ContainerId = _containerId, ExecId = _execId, Len = _chunkSize };
        try
        {
            var response = _stderr
                ? await _client.ReadStderrAsync(request, linked.Token).ConfigureAwait(false)
                : await _client.ReadStdoutAsync(request, linked.Token).ConfigureAwait(false);
            return response.Data.Memory;
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Message, e, cancellationToken);
        }
        catch (OperationCanceledException e) when (_disposed != 0)
        {
            throw new ObjectDisposedException(GetType().Name, e.Message);
        }
        catch (AgentStatusException e) when (IsKataEndOfStream(e))
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.NotFound)
        {
            // The container was removed (or the process forgotten): its output is gone, so this is the end.
            return ReadOnlyMemory<byte>.Empty;
        }
        catch (AgentStatusException e)
        {
            throw new IOException($"{(_stderr ? "ReadStderr" : "ReadStdout")} for {StreamingStdio.Describe(_containerId, _execId)} failed: {e.StatusCode}: {e.Detail}", e);
        }
    }
}
