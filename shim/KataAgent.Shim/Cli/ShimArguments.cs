namespace KataAgent.Shim.Cli;

/// <summary>
/// What containerd tells a shim on its command line and in its environment (runtime v2 contract, Go flag syntax:
/// <c>-namespace ns -address sock -publish-binary bin -id id [-bundle dir] [-socket addr] [-debug] [start|delete]</c>).
/// </summary>
internal sealed record ShimArguments
{
    /// <summary>The containerd namespace (<c>-namespace</c>); never empty.</summary>
    public required string Namespace { get; init; }

    /// <summary>The task id (<c>-id</c>): the container, or the sandbox whose shim this is.</summary>
    public required string Id { get; init; }

    /// <summary>containerd's gRPC socket (<c>-address</c>); part of the shim socket's name.</summary>
    public string ContainerdAddress { get; init; } = "";

    /// <summary>containerd's ttrpc socket for events (<c>TTRPC_ADDRESS</c>); empty when the caller gives none (CRI-O).</summary>
    public string TtrpcAddress { get; init; } = "";

    /// <summary>The containerd binary for <c>publish</c> (<c>-publish-binary</c>); unused: events go over ttrpc.</summary>
    public string PublishBinary { get; init; } = "";

    /// <summary>The bundle directory (<c>-bundle</c>, else the working directory containerd starts us in).</summary>
    public required string Bundle { get; init; }

    /// <summary>The socket to serve on (<c>-socket</c>); null: the listener passed as fd 3 by <c>start</c>.</summary>
    public string? Socket { get; init; }

    /// <summary>containerd runs at debug level (<c>-debug</c>).</summary>
    public bool Debug { get; init; }

    /// <summary>The action word: <c>start</c>, <c>delete</c>, or empty for the daemon itself.</summary>
    public string Action { get; init; } = "";
}
