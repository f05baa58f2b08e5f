namespace KataAgent.Protocols.Ttrpc;

/// <summary>How a <see cref="TtrpcServer"/> answers a request for a service or method it does not serve.</summary>
public enum TtrpcUnknownMethodStyle
{
    /// <summary>
    /// As Go's ttrpc (containerd and its shims): Unimplemented "service X" for an unknown service, Unimplemented
    /// "method X" for an unknown method of a known one.
    /// </summary>
    Go,

    /// <summary>
    /// As Rust's ttrpc (Kata's agent): InvalidArgument "/service/method does not exist" for either, so a Kata runtime
    /// sees exactly what Kata's own agent would answer.
    /// </summary>
    Rust,
}
