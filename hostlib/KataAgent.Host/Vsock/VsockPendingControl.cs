namespace KataAgent.Host.Vsock;

/// <summary>
/// The control packets a connection owes the guest. Flags, not a queue: each is owed at most once at a time, so
/// what waits outside the rx ring stays bounded by the number of connections whatever the guest does.
/// </summary>
[Flags]
internal enum VsockPendingControl
{
    /// <summary>Nothing owed.</summary>
    None = 0,

    /// <summary>REQUEST for a host-initiated connection.</summary>
    Request = 1,

    /// <summary>RESPONSE to the guest's REQUEST.</summary>
    Response = 2,

    /// <summary>SHUTDOWN with the connection's local shutdown flags.</summary>
    Shutdown = 4,

    /// <summary>CREDIT_REQUEST: host data waits and the guest's credit is spent.</summary>
    CreditRequest = 8,

    /// <summary>CREDIT_UPDATE: asked for, or enough of our buffer freed since the guest last heard.</summary>
    CreditUpdate = 16,
}
