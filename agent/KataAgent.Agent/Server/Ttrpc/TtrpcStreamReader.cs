using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// A ttrpc stream's client messages as a generated handler reads them (<see cref="IAsyncStreamReader{T}"/>), each
/// parsed with the method's request marshaller (whose parse failure is INVALID_ARGUMENT naming the message type).
/// </summary>
internal sealed class TtrpcStreamReader<TRequest>(TtrpcServerStream stream, Func<ReadOnlyMemory<byte>, TRequest> parse, CancellationToken callToken) : IAsyncStreamReader<TRequest>
    where TRequest : class
{
    private TRequest? _current;

    public TRequest Current => _current ?? throw new InvalidOperationException("MoveNext has not returned true");

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        ReadOnlyMemory<byte>? next = await stream.ReadAsync(both.Token).ConfigureAwait(false);
        if (next is not { } payload)
        {
            _current = null;
            return false;
        }
        _current = parse(payload);
        return true;
    }
}
