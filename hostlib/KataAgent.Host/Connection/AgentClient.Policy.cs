using Google.Protobuf;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host;

/// <summary>The agent policy and the guest's packet filter, in plain .NET types.</summary>
public sealed partial class AgentClient
{
    /// <summary>
    /// SetPolicy with <paramref name="policy"/>, a policy document in the agent's JSON format
    /// (docs/POLICY.md). The agent refuses a document that does not validate (INVALID_ARGUMENT naming
    /// the field), a Rego policy (FAILED_PRECONDITION), and SetPolicy itself when the policy in force
    /// denies it (PERMISSION_DENIED); each arrives as <see cref="AgentStatusException"/>.
    /// </summary>
    public Task SetPolicyDocumentAsync(string policy, CancellationToken cancellationToken = default) =>
        SetPolicyAsync(new SetPolicyRequest { Policy = policy }, cancellationToken);

    /// <summary>GetIPTables: the guest's rules as <c>iptables-save</c> (or <c>ip6tables-save</c> with <paramref name="ipv6"/>) prints them.</summary>
    public async Task<byte[]> SaveIPTablesAsync(bool ipv6, CancellationToken cancellationToken = default) =>
        (await GetIPTablesAsync(new GetIPTablesRequest { IsIpv6 = ipv6 }, cancellationToken).ConfigureAwait(false)).Data.ToByteArray();

    /// <summary>SetIPTables: feeds <paramref name="rules"/> (iptables-restore's input format) to the guest's <c>iptables-restore</c> (<c>ip6tables-restore</c> with <paramref name="ipv6"/>); returns what it printed.</summary>
    public async Task<byte[]> RestoreIPTablesAsync(bool ipv6, ReadOnlyMemory<byte> rules, CancellationToken cancellationToken = default) =>
        (await SetIPTablesAsync(new SetIPTablesRequest { IsIpv6 = ipv6, Data = ByteString.CopyFrom(rules.Span) }, cancellationToken).ConfigureAwait(false)).Data.ToByteArray();
}
