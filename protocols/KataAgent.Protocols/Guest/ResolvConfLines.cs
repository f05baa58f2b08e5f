namespace KataAgent.Protocols.Guest;

/// <summary>
/// The rule for CreateSandbox's <c>dns</c> entries, checked by the host before it boots a VM and by the agent
/// before it writes <see cref="GuestLayout.SandboxResolvConfPath"/>: each entry is one resolv.conf line.
/// </summary>
public static class ResolvConfLines
{
    /// <summary>Null when <paramref name="line"/> is a single resolv.conf line, else what is wrong with it.</summary>
    public static string? Problem(string line) =>
        line.Contains('\n') || line.Contains('\r') || line.Contains('\0') ? "must be a single resolv.conf line" : null;
}
