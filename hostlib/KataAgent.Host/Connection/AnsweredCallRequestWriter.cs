using Grpc.Core;

namespace KataAgent.Host;

/// <summary>
/// A call's request stream whose write, when the agent's answer has made it moot, is dropped or fails with the call's
/// status, never with a bare <c>CANCELLED</c> (see <see cref="AnsweredCallInvoker"/> for the race this closes).
/// </summary>
internal sealed class AnsweredCallRequestWriter<T>(
    IClientStreamWriter<T> inner,
    Func<Status> getStatus,
    Func<Metadata> getTrailers,
    CancellationToken callCancellation) : IClientStreamWriter<T>
{
    public WriteOptions? WriteOptions
    {
        get => inner.WriteOptions;
        set => inner.WriteOptions = value;
    }

    public Task CompleteAsync() => inner.CompleteAsync();

    public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

    public Task WriteAsync(T message, CancellationToken cancellationToken)
    {
        var write = inner.WriteAsync(message, cancellationToken);
        return write.IsCompletedSuccessfully ? write : CheckedAsync(write, cancellationToken);
    }

    private async Task CheckedAsync(Task write, CancellationToken cancellationToken)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (RpcException e) when (AbandonedByTheAnswer(e, cancellationToken))
        {
            if (TryGetStatus(out var status))
            {
                // The answer has been read meanwhile: what Grpc.Net.Client says when it has read it first.
                throw new RpcException(status, Trailers());
            }
            // Dropped: the call's reads and response report the answer.
        }
    }

    /// <summary>
    /// Grpc.Net.Client's failure for a write whose send was cancelled under it (its debug exception is the
    /// cancellation) when neither this write's token nor the call's was cancelled: a disposed call or a deadline
    /// would have set the call's status first, so with none yet the cancellation was HTTP/2's, after the answer.
    /// </summary>
    private bool AbandonedByTheAnswer(RpcException e, CancellationToken cancellationToken) =>
        e.StatusCode == StatusCode.Cancelled
        && e.Status.DebugException is OperationCanceledException
        && !cancellationToken.IsCancellationRequested
        && !callCancellation.IsCancellationRequested;

    private bool TryGetStatus(out Status status)
    {
        try
        {
            status = getStatus();
            return true;
        }
        catch (InvalidOperationException)
        {
            // "The call is not complete": its status is still in the response Grpc.Net.Client has not read.
            status = default;
            return false;
        }
    }

    private Metadata Trailers()
    {
        try
        {
            return getTrailers();
        }
        catch (InvalidOperationException)
        {
            return Metadata.Empty;
        }
    }
}
