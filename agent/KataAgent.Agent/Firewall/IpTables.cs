using KataAgent.Agent.Errors;
using KataAgent.Agent.Processes;

namespace KataAgent.Agent.Firewall;

/// <summary>
/// GetIPTables and SetIPTables as Kata's agent does them: through the guest's own
/// <c>iptables-save</c> / <c>iptables-restore</c> (<c>ip6tables-*</c> for IPv6), looked for in
/// /usr/sbin then /sbin (and /usr/bin, /bin). Rules go to iptables-restore on its stdin with
/// <c>--wait 5</c> (Kata's xtables-lock wait). A guest without the tool answers FAILED_PRECONDITION
/// naming it; a tool that fails answers with its own stderr.
/// </summary>
public sealed class IpTables(ToolRunner tools, IReadOnlyList<string> searchPath)
{
    /// <summary>The tools looked for where Kata's agent looks (<see cref="ToolRunner.SearchPath"/>).</summary>
    public IpTables(ToolRunner tools)
        : this(tools, ToolRunner.SearchPath)
    {
    }

    /// <summary>Seconds iptables-restore waits for the xtables lock (Kata's IPTABLES_RESTORE_WAIT_SEC).</summary>
    public const int RestoreWaitSeconds = 5;

    /// <summary>How long a tool may run before it is killed: the lock wait and more.</summary>
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The <c>iptables-save</c> (or ip6tables-save) output: every table's rules.</summary>
    public async Task<byte[]> SaveAsync(bool ipv6, CancellationToken cancellationToken)
    {
        string path = Require(ipv6 ? "ip6tables-save" : "iptables-save");
        var result = await RunAsync(path, [], ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (result.Status != 0)
        {
            throw AgentException.Internal($"{path} failed (exit {result.Status}): {Describe(result.Stderr)}");
        }
        return result.Stdout;
    }

    /// <summary>Feeds <paramref name="rules"/> (iptables-restore's input format) to iptables-restore; returns its stdout.</summary>
    public async Task<byte[]> RestoreAsync(bool ipv6, ReadOnlyMemory<byte> rules, CancellationToken cancellationToken)
    {
        string path = Require(ipv6 ? "ip6tables-restore" : "iptables-restore");
        var result = await RunAsync(path, ["--wait", RestoreWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)], rules, cancellationToken).ConfigureAwait(false);
        if (result.Status != 0)
        {
            // The rules did not apply; iptables-restore names the line it refused.
            throw AgentException.InvalidArgument("data", $"{path} refused the rules (exit {result.Status}): {Describe(result.Stderr)}");
        }
        return result.Stdout;
    }

    private async Task<ToolResult> RunAsync(string path, IReadOnlyList<string> arguments, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        try
        {
            return await tools.RunAsync(path, arguments, input, ToolTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded(null, e.Message);
        }
    }

    private string Require(string tool) =>
        ToolRunner.Find(tool, searchPath) ?? throw AgentException.FailedPrecondition(null,
            $"{tool} is not installed in the guest (looked in {string.Join(", ", searchPath)}); the guest image needs the iptables package for GetIPTables/SetIPTables");

    private static string Describe(string stderr) => stderr.Length == 0 ? "no message" : stderr;
}
