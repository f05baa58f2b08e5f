namespace KataAgent.Host.Transport;

/// <summary>Any stream the caller can open: a pty, a pipe pair, an in-memory transport, a custom proxy.</summary>
public sealed class DelegateConnector(Func<CancellationToken, ValueTask<Stream>> connect, string description) : IAgentConnector
{
    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) => connect(cancellationToken);
}
