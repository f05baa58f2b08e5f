namespace KataAgent.Linux.Netlink.Route;

/// <summary>A mirred action: redirect or mirror to another device (tc_mirred).</summary>
/// <param name="Kind">TCA_ACT_KIND ("mirred"; other kinds are listed with the rest zero).</param>
/// <param name="ExtendedAction">TCA_EGRESS_REDIR, TCA_EGRESS_MIRROR, …</param>
/// <param name="InterfaceIndex">The device packets go to.</param>
/// <param name="Verdict">TC_ACT_* after the action (TC_ACT_STOLEN for a redirect).</param>
internal sealed record MirredAction(string Kind, int ExtendedAction, int InterfaceIndex, int Verdict);
