using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace KataAgent.Agent.Transport;

/// <summary>
/// A Kestrel connection over any byte <see cref="Stream"/>: how the agent serves HTTP/2 over
/// transports Kestrel's socket transport cannot take (virtio-serial char devices, AF_VSOCK).
/// </summary>
internal sealed class StreamConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature
{
    private static long s_nextId;
    private readonly Stream _stream;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _isDisposed;

    public StreamConnection(Stream stream, string transportName, EndPoint localEndPoint)
    {
        _stream = stream;
        ConnectionId = $"{transportName}-{Interlocked.Increment(ref s_nextId)}";
        LocalEndPoint = localEndPoint;
        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        Transport = new DuplexPipe(input, output);
        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        ConnectionClosed = _closed.Token;
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>Completes once Kestrel is done with the connection and the stream is closed.</summary>
    public Task Disposed => _disposed.Task;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Disposing the stream wakes a pending read, which ends the connection's read loop.
        CloseStream();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _isDisposed, 1) == 1)
        {
            return;
        }
        await Transport.Input.CompleteAsync().ConfigureAwait(false);
        await Transport.Output.CompleteAsync().ConfigureAwait(false);
        CloseStream();
        _closed.Dispose();
        _disposed.TrySetResult();
    }

    private void CloseStream()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        _stream.Dispose();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
