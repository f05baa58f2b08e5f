namespace KataAgent.Host.Transport;

/// <summary>Opens one byte stream to the agent; HTTP/2 runs on top of it.</summary>
public interface IAgentConnector
{
    /// <summary>What is connected to, for messages (usually the address).</summary>
    string Description { get; }

    /// <summary>Opens a new stream. Throws with the reason when the agent cannot be reached.</summary>
    ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken);

    /// <summary>
    /// True for failures that retrying cannot fix (the kernel lacks the address family, an address
    /// that cannot work on this side); the connect loop then stops at once.
    /// </summary>
    bool IsPermanent(Exception exception) => false;
}
