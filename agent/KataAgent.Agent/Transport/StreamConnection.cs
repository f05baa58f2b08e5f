using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace KataAgent.Agent.Transport;

/// <summary>
/// A connection over any byte <see cref="Stream"/>, as the agent's listener accepts it on every transport
/// (virtio-serial char devices, AF_VSOCK, unix and tcp sockets) and serves it over ttrpc or hands it to Kestrel.
/// Two pumps move bytes between the stream and Kestrel's pipes, as Kestrel's socket transport
/// does: when the peer goes away (EOF, or a write that fails because the host end of a serial
/// port closed) the connection is reported closed and both pumps end, so whoever serves it lets go of it.
/// </summary>
internal sealed class StreamConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature
{
    private const int ReadBufferSize = 64 * 1024;
    /// <summary>The most one write joins from the pipe's segments (a ttrpc frame's payload is at most 4 MiB).</summary>
    private const int MaxCoalescedWrite = 1024 * 1024;
    private static long s_nextId;
    private readonly Stream _stream;
    /// <summary>
    /// Both front ends move every call off the reading loop (HTTP/2 per stream, ttrpc per request), so a hop to the
    /// thread pool between the pumps and the protocol's code would only add latency to every round trip.
    /// </summary>
    private static readonly PipeOptions InlinePipe = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);
    private readonly Pipe _input = new(InlinePipe);
    private readonly Pipe _output = new(InlinePipe);
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _receiving;
    private readonly Task _sending;
    private int _streamClosed;
    private int _isDisposed;
    private long _bytesReceived;

    public StreamConnection(Stream stream, string transportName, EndPoint localEndPoint, EndPoint? remoteEndPoint = null)
    {
        _stream = stream;
        ConnectionId = $"{transportName}-{Interlocked.Increment(ref s_nextId)}";
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        ConnectionClosed = _closed.Token;
        _receiving = Task.Run(ReceiveAsync);
        _sending = Task.Run(SendAsync);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>Completes once Kestrel is done with the connection and the stream is closed.</summary>
    public Task Disposed => _disposed.Task;

    /// <summary>
    /// The transport itself, for a protocol that writes whole frames under its own lock (ttrpc) and so needs no output
    /// pipe; it must not be disposed by that protocol, and nothing else may write to the output pipe meanwhile.
    /// </summary>
    public Stream TransportStream => _stream;

    /// <summary>Bytes read from the peer so far.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _output.Reader.CancelPendingRead();
        CloseStream();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _isDisposed, 1) == 1)
        {
            return;
        }
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        CloseStream();
        await Task.WhenAll(_receiving, _sending).ConfigureAwait(false);
        FireClosed();
        _closed.Dispose();
        _disposed.TrySetResult();
    }

    private async Task ReceiveAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                Memory<byte> buffer = _input.Writer.GetMemory(ReadBufferSize);
                int read = await _stream.ReadAsync(buffer).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                Interlocked.Add(ref _bytesReceived, read);
                _input.Writer.Advance(read);
                FlushResult result = await _input.Writer.FlushAsync().ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The stream was closed under the read (abort or dispose), or the device failed.
            error = e is IOException ? new ConnectionResetException(e.Message, e) : null;
        }
        await _input.Writer.CompleteAsync(error).ConfigureAwait(false);
        FireClosed();
    }

    private async Task SendAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await _output.Reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }
                await WriteAsync(result.Buffer).ConfigureAwait(false);
                _output.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer is gone (EIO/EPIPE on a port whose host end closed): stop, and say so.
            error = new ConnectionAbortedException(e.Message, e);
        }
        await _output.Reader.CompleteAsync(error).ConfigureAwait(false);
        if (error is not null)
        {
            CloseStream();
        }
    }

    /// <summary>
    /// Writes what the pipe holds in one write: a pipe keeps its bytes in 4 KiB segments, so a 64 KiB frame written
    /// segment by segment was sixteen system calls (and sixteen wake-ups of the peer) where one copy does.
    /// </summary>
    private async ValueTask WriteAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            await _stream.WriteAsync(buffer.First).ConfigureAwait(false);
            return;
        }
        while (!buffer.IsEmpty)
        {
            int length = (int)Math.Min(buffer.Length, MaxCoalescedWrite);
            byte[] joined = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                buffer.Slice(0, length).CopyTo(joined);
                await _stream.WriteAsync(joined.AsMemory(0, length)).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(joined);
            }
            buffer = buffer.Slice(length);
        }
    }

    private void FireClosed()
    {
        if (_closed.IsCancellationRequested)
        {
            return;
        }
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void CloseStream()
    {
        if (Interlocked.Exchange(ref _streamClosed, 1) == 0)
        {
            // Wakes a pending read, which ends the receive pump.
            _stream.Dispose();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
