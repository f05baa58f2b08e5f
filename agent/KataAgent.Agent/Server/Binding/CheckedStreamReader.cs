using Grpc.Core;

namespace KataAgent.Agent.Server.Binding;

/// <summary>A request stream whose every message passes <paramref name="check"/> before the handler sees it; a refused one ends the call with the check's error.</summary>
internal sealed class CheckedStreamReader<T>(IAsyncStreamReader<T> inner, Action<T> check) : IAsyncStreamReader<T>
{
    public T Current => inner.Current;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (!await inner.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }
        check(inner.Current);
        return true;
    }
}
