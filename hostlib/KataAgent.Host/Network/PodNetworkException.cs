namespace KataAgent.Host.Network;

/// <summary>The pod's network cannot be scanned or wired into the VM; the message says why and where.</summary>
public sealed class PodNetworkException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public PodNetworkException(string message)
        : base(KataAgentErrorKind.Network, message)
    {
    }

    /// <summary>A failure described by <paramref name="message"/>, caused by <paramref name="inner"/>.</summary>
    public PodNetworkException(string message, Exception inner)
        : base(KataAgentErrorKind.Network, message, inner)
    {
    }
}
