using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Firewall;
using KataAgent.Host;
using KataAgent.Tests.Infrastructure;
using KataAgent.Tests.Netlink;
using Xunit;

namespace KataAgent.Tests.Agent.Firewall;

/// <summary>
/// GetIPTables and SetIPTables through the published agent running inside a scratch network
/// namespace of its own, so the rules land there and the host's own tables are never touched
/// (checked: the host's iptables-save never shows them).
/// </summary>
public sealed class IpTablesRpcTests : IAsyncLifetime
{
    private readonly ScratchNetworkNamespace _ns = new();
    private AgentProcess _agent = null!;
    private AgentClient _client = null!;

    public async Task InitializeAsync()
    {
        _agent = AgentProcess.StartOnUnixSocketInNetworkNamespace(_ns.Name);
        _client = await _agent.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _agent.DisposeAsync();
        _ns.Dispose();
    }

    private async Task<string> SaveInNamespace(string tool) =>
        (await Cli.Wrap("ip").WithArguments(["netns", "exec", _ns.Name, tool]).ExecuteBufferedAsync()).StandardOutput;

    private static async Task<string> SaveOnHost(string tool) =>
        (await Cli.Wrap(tool).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync()).StandardOutput;

    [Theory]
    [InlineData(false, "192.0.2.77/32", "iptables-save")]
    [InlineData(true, "2001:db8::77/128", "ip6tables-save")]
    public async Task Rules_set_through_the_agent_are_what_the_namespace_has_and_what_GetIPTables_reads_back(bool ipv6, string source, string save)
    {
        string rules = $"""
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD DROP [0:0]
            :OUTPUT ACCEPT [0:0]
            :kata-test - [0:0]
            -A INPUT -s {source} -j kata-test
            -A kata-test -p tcp --dport 8080 -j REJECT
            COMMIT

            """;

        await _client.RestoreIPTablesAsync(ipv6, Encoding.ASCII.GetBytes(rules));

        string saved = Encoding.ASCII.GetString(await _client.SaveIPTablesAsync(ipv6));
        saved.Should().Contain($"-A INPUT -s {source} -j kata-test").And.Contain(":FORWARD DROP").And.Contain("-A kata-test -p tcp -m tcp --dport 8080 -j REJECT");
        (await SaveInNamespace(save)).Should().Contain($"-A INPUT -s {source} -j kata-test", "the agent changed its own network namespace");
        (await SaveOnHost(save)).Should().NotContain("kata-test", "the host's tables are never touched");

        // The other family is its own table set.
        Encoding.ASCII.GetString(await _client.SaveIPTablesAsync(!ipv6)).Should().NotContain("kata-test");
    }

    [Fact]
    public async Task Rules_iptables_restore_refuses_are_invalid_argument_with_its_stderr_and_nothing_changes()
    {
        await _client.RestoreIPTablesAsync(false, Encoding.ASCII.GetBytes("*filter\n-A INPUT -s 192.0.2.1 -j DROP\nCOMMIT\n"));

        var bad = async () => await _client.RestoreIPTablesAsync(false, Encoding.ASCII.GetBytes("*filter\n-F INPUT\n-A INPUT -j NO-SUCH-CHAIN\nCOMMIT\n"));
        var error = (await bad.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument, error.Detail);
        error.Detail.Should().StartWith("data: /usr/sbin/iptables-restore refused the rules (exit ").And.Contain("Chain 'NO-SUCH-CHAIN' does not exist");

        Encoding.ASCII.GetString(await _client.SaveIPTablesAsync(false)).Should().Contain("-A INPUT -s 192.0.2.1/32 -j DROP", "iptables-restore applies a table's commit whole or not at all");
    }

    [Fact]
    public async Task A_guest_without_the_tools_answers_failed_precondition_naming_the_missing_one()
    {
        var tables = new IpTables(null!, ["/nonexistent/sbin", "/nonexistent/bin"]);

        var save = async () => await tables.SaveAsync(ipv6: true, CancellationToken.None);
        var error = (await save.Should().ThrowAsync<AgentException>()).Which;
        error.Kind.Should().Be(AgentErrorKind.FailedPrecondition);
        error.Message.Should().Be("ip6tables-save is not installed in the guest (looked in /nonexistent/sbin, /nonexistent/bin); the guest image needs the iptables package for GetIPTables/SetIPTables");
        var restore = async () => await tables.RestoreAsync(ipv6: false, "*filter\nCOMMIT\n"u8.ToArray(), CancellationToken.None);
        (await restore.Should().ThrowAsync<AgentException>()).Which.Message.Should().StartWith("iptables-restore is not installed in the guest");
    }
}
