namespace KataAgent.Host.Network;

/// <summary>The pod's network cannot be scanned or wired into the VM; the message says why and where.</summary>
public sealed class PodNetworkException : Exception
{
    public PodNetworkException(string message)
        : base(message)
    {
    }

    public PodNetworkException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
