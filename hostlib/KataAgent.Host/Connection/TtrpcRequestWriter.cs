using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>The client's messages of a ttrpc stream, written as a gRPC request stream.</summary>
internal sealed class TtrpcRequestWriter<T>(TtrpcCall call, Task<TtrpcClientStream> stream, Marshaller<T> marshaller) : IClientStreamWriter<T>
{
    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

    public Task WriteAsync(T message, CancellationToken cancellationToken) => call.RunAsync(async token =>
    {
        var opened = await stream.ConfigureAwait(false);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
        await opened.WriteAsync(TtrpcCallInvoker.Encode(marshaller, message), both.Token).ConfigureAwait(false);
        return true;
    });

    public Task CompleteAsync() => call.RunAsync(async token =>
    {
        var opened = await stream.ConfigureAwait(false);
        await opened.CloseWriteAsync(token).ConfigureAwait(false);
        return true;
    });
}
