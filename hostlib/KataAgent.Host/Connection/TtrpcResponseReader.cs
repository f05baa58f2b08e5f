using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>The server's messages of a ttrpc stream, read as a gRPC response stream.</summary>
internal sealed class TtrpcResponseReader<T>(TtrpcCall call, Task<TtrpcClientStream> stream, Marshaller<T> marshaller) : IAsyncStreamReader<T>
{
    private T? _current;

    public T Current => _current ?? throw new InvalidOperationException("MoveNext has not returned true");

    public Task<bool> MoveNext(CancellationToken cancellationToken) => call.RunAsync(async token =>
    {
        var opened = await stream.ConfigureAwait(false);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
        if (await opened.ReadAsync(both.Token).ConfigureAwait(false) is not { } message)
        {
            call.Complete(Status.DefaultSuccess);
            return false;
        }
        _current = call.Decode(marshaller, message);
        return true;
    });
}
