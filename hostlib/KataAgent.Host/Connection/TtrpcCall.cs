using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>
/// What one gRPC-shaped call over ttrpc shares between its parts: the cancellation (the caller's token, or disposing
/// the call), the deadline turned into a timeout, the metadata, and the final status gRPC's call objects report.
/// </summary>
internal sealed class TtrpcCall : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private Status? _status;

    public TtrpcCall(CallOptions options)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        Token = _cancel.Token;
        if (options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            Timeout = deadline.ToUniversalTime() - DateTime.UtcNow;
        }
        // ttrpc metadata is text; a binary (-bin) entry has no place in it.
        Metadata = options.Headers?.Where(entry => !entry.IsBinary).Select(entry => KeyValuePair.Create(entry.Key, entry.Value)).ToArray();
    }

    /// <summary>Fires when the caller cancels or disposes the call.</summary>
    public CancellationToken Token { get; }

    /// <summary>What is left of the deadline (zero or less: already passed), or null for none.</summary>
    public TimeSpan? Timeout { get; }

    /// <summary>The request metadata, or null.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Metadata { get; }

    /// <summary>The call's status; throws until it is known, as gRPC's calls do.</summary>
    public Status GetStatus() => _status ?? throw new InvalidOperationException("the call has not completed yet");

    /// <summary>ttrpc carries no trailers.</summary>
    public static Metadata GetTrailers() => [];

    /// <summary>Records how the call ended.</summary>
    public void Complete(Status status) => _status ??= status;

    /// <summary>Runs one step of the call; an RpcException (or a cancellation, made one) ends the call with its status.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> step)
    {
        try
        {
            return await step(Token).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            Complete(e.Status);
            throw;
        }
        catch (OperationCanceledException e) when (Token.IsCancellationRequested)
        {
            var status = new Status(StatusCode.Cancelled, "context canceled", e);
            Complete(status);
            throw new RpcException(status);
        }
    }

    /// <summary>Decodes a reply with the method's marshaller; a reply that does not decode is Internal.</summary>
    public T Decode<T>(Marshaller<T> marshaller, ReadOnlyMemory<byte> payload)
    {
        try
        {
            return marshaller.ContextualDeserializer(new TtrpcDeserializationContext(payload));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException or ArgumentException)
        {
            var status = new Status(StatusCode.Internal, "ttrpc: error unmarshalling payload: " + e.Message, e);
            Complete(status);
            throw new RpcException(status);
        }
    }

    /// <summary>Cancels the call if it is still running.</summary>
    public void Dispose()
    {
        Complete(new Status(StatusCode.Cancelled, "the call was disposed"));
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // disposed twice
        }
        _cancel.Dispose();
    }
}
