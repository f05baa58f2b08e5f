namespace KataAgent.Protocols.Ttrpc;

/// <summary>What a ttrpc server handler knows about the call it serves.</summary>
public sealed class TtrpcCallContext
{
    internal TtrpcCallContext(
        string service, string method, IReadOnlyList<KeyValuePair<string, string>> metadata, DateTime? deadline,
        CancellationToken cancellationToken)
    {
        Service = service;
        Method = method;
        Metadata = metadata;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The full protobuf service name, for example <c>grpc.AgentService</c>.</summary>
    public string Service { get; }

    /// <summary>The method name, for example <c>CreateContainer</c>.</summary>
    public string Method { get; }

    /// <summary>The request metadata in wire order; a key with several values appears several times.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; }

    /// <summary>The caller's deadline (UTC) from the envelope's <c>timeout_nano</c>, or null when it set none.</summary>
    public DateTime? Deadline { get; }

    /// <summary>Cancelled when the deadline passes or the connection ends.</summary>
    public CancellationToken CancellationToken { get; }
}
