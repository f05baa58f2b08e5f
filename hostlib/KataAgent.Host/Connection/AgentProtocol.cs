namespace KataAgent.Host;

/// <summary>Which RPC protocol <see cref="AgentClient"/> speaks to the agent.</summary>
public enum AgentProtocol
{
    /// <summary>gRPC over HTTP/2 (our agent; the default, as before ttrpc existed here).</summary>
    Grpc,

    /// <summary>ttrpc, containerd's RPC (Kata's own agent speaks only this; ours speaks both).</summary>
    Ttrpc,

    /// <summary>
    /// Ask the peer: a ttrpc Health.Check goes out first on a fresh connection. Any ttrpc answer (any status) means
    /// ttrpc; the peer closing the connection, or answering bytes that are not ttrpc frames, means gRPC (an HTTP/2
    /// server drops a connection that does not start with the HTTP/2 preface). No answer at all is retried until the
    /// connect timeout, like any connect attempt. An agent that speaks both is driven over ttrpc.
    /// </summary>
    Detect,
}
