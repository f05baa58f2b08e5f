using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>A generated handler's responses (<see cref="IServerStreamWriter{T}"/>) as data frames on its ttrpc stream.</summary>
internal sealed class TtrpcStreamWriter<TResponse>(TtrpcServerStream stream, CancellationToken callToken) : IServerStreamWriter<TResponse>
    where TResponse : class
{
    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(TResponse message) => WriteAsync(message, CancellationToken.None);

    public Task WriteAsync(TResponse message, CancellationToken cancellationToken) =>
        message is IMessage protobuf
            ? WriteCoreAsync(protobuf, cancellationToken)
            : throw new InvalidOperationException($"{typeof(TResponse).Name} is not a protobuf message");

    private async Task WriteCoreAsync(IMessage message, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            await stream.WriteMessageAsync(message, callToken).ConfigureAwait(false);
            return;
        }
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        await stream.WriteMessageAsync(message, both.Token).ConfigureAwait(false);
    }
}
