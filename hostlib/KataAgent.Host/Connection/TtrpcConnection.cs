using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>
/// The ttrpc connection behind an <see cref="AgentClient"/>: one <see cref="TtrpcClient"/> at a time, opened on first
/// use and again after the previous one ended, as a gRPC channel reconnects. Calls in flight when a connection breaks
/// fail (Unavailable "ttrpc: closed"); the next call opens a new one.
/// </summary>
internal sealed class TtrpcConnection(Func<CancellationToken, ValueTask<Stream>> connect, TtrpcClient? first = null) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TtrpcClient? _current = first;
    private bool _disposed;

    /// <summary>The live client, connecting first if there is none. A failed connect is Unavailable.</summary>
    public async ValueTask<TtrpcClient> GetClientAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _current) is { Completion.IsCompleted: false } live)
        {
            return live;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "ttrpc: closed"));
            }
            if (_current is { Completion.IsCompleted: false } current)
            {
                return current;
            }
            if (_current is { } ended)
            {
                await ended.DisposeAsync().ConfigureAwait(false);
                _current = null;
            }
            Stream stream;
            try
            {
                stream = await connect(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "Error connecting to the agent: " + e.Message, e));
            }
            var client = new TtrpcClient(stream);
            Volatile.Write(ref _current, client);
            return client;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the connection; later calls fail with Unavailable.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_current is { } client)
            {
                await client.DisposeAsync().ConfigureAwait(false);
                _current = null;
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
