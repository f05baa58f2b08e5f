using FluentAssertions;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Testing;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.MemAgent;

/// <summary>
/// MemAgentMemcgSet and MemAgentCompactSet through the published agent, its mem-agent pointed at a
/// fake kernel tree (KATA_AGENT_PROC_ROOT, KATA_AGENT_SYSFS_ROOT, KATA_AGENT_CGROUP_ROOT): this
/// host's kernel has no MGLRU and its cgroup2 hierarchy no memory controller, and compacting the
/// host's memory is not the test's business. The fake lru_gen file keeps its listing and collects the
/// commands the reclaimer sends; the fake compact_memory file records the compactor's write.
/// </summary>
public sealed class MemAgentRpcTests : IDisposable
{
    private const string Listing = """
        memcg     1 /
         node     0
                  0     900000      100      5000
                  1     800000      200      4000
                  2     700000      300      3000
                  3     600000      400      2000
        memcg     7 /kata/c1
         node     0
                  4     900000     1000      8000
                  5     800000       10        10
                  6     700000       10        10
                  7      30000       10        10
        memcg     0 /offline
        """;

    private const string Pressure = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=500\n";

    private readonly TempDirectory _tree = new();

    public MemAgentRpcTests()
    {
        Write("proc/pressure/memory", Pressure);
        Write("proc/pressure/io", Pressure);
        Write("proc/meminfo", "MemTotal:  2000000 kB\nMemFree:   1500000 kB\nSwapTotal: 0 kB\nSwapFree:  0 kB\n");
        Write("proc/pagetypeinfo", """
            Page block order: 9
            Pages per block:  512

            Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10
            Node    0, zone      DMA, type    Unmovable      0      0      0      0      0      0      0      0      0      0      0
            Node    0, zone    DMA32, type      Movable    400    100     10      0      0      0      0      0      0      1    300
            Node    0, zone   Normal, type      Movable    200      0      0      0      0      0      0      0      0      0     50
            """);
        Write("proc/sys/vm/compact_memory", "");
        Write("sys/kernel/mm/lru_gen/enabled", "0x0000\n");
        Write("sys/kernel/debug/lru_gen", Listing + "\n");
        Write("cgroup/kata/c1/memory.pressure", Pressure);
        Write("cgroup/kata/c1/io.pressure", Pressure);
    }

    public void Dispose() => _tree.Dispose();

    private string PathOf(string relative) => Path.Combine(_tree.Path, relative);

    private void Write(string relative, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(PathOf(relative))!);
        File.WriteAllText(PathOf(relative), content);
    }

    private AgentProcess Start(bool enable = true, bool withMglru = true)
    {
        if (!withMglru)
        {
            File.Delete(PathOf("sys/kernel/mm/lru_gen/enabled"));
        }
        return AgentProcess.StartOnUnixSocket(new Dictionary<string, string?>
        {
            ["KATA_AGENT_MEM_AGENT_ENABLE"] = enable ? "1" : "0",
            ["KATA_AGENT_PROC_ROOT"] = PathOf("proc"),
            ["KATA_AGENT_SYSFS_ROOT"] = PathOf("sys"),
            ["KATA_AGENT_CGROUP_ROOT"] = PathOf("cgroup"),
        });
    }

    private static async Task Eventually(Func<bool> condition, string because, AgentProcess agent)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"{because}\nagent output:\n{agent.Output}");
            await Task.Delay(100);
        }
    }

    private string[] Commands() => File.ReadAllLines(PathOf("sys/kernel/debug/lru_gen")).Where(l => l.StartsWith('+') || l.StartsWith('-')).ToArray();

    [Fact]
    public async Task The_memcg_reclaimer_ages_idle_memcgs_each_period_and_evicts_their_oldest_generation()
    {
        await using var agent = Start();
        await using var client = await agent.ConnectAsync();
        await Eventually(() => File.ReadAllText(PathOf("sys/kernel/mm/lru_gen/enabled")) == "7", "MGLRU is turned fully on at start, as Kata does", agent);
        await Task.Delay(1500);
        Commands().Should().BeEmpty("nothing runs before the first period (default 600 s) has passed");

        await client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { PeriodSecs = 1, EvictionRunAgingCountMin = 1, SwappinessMax = 30 });

        await Eventually(() => Commands().Contains("- 1 0 0 0 1"), "the root memcg is aged, then evicted from", agent);
        Commands().Should().Contain("+ 1 0 3 0 1", "aging asks for a new generation after MAX_SEQ 3, without swap");
        Commands().Should().NotContain(c => c.StartsWith("+ 7 "), "/kata/c1 is in use: its youngest generation is 30 s old, under the minute that makes it idle");
        Commands().Should().NotContain(c => c.Split(' ')[1] == "0", "an offline memcg (id 0) is never touched");
        int passes = Commands().Count(c => c == "+ 1 0 3 0 1");
        await Eventually(() => Commands().Count(c => c == "+ 1 0 3 0 1") >= passes + 2, "the pass repeats every period_secs", agent);

        // Turned off, it stops.
        await client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { Disabled = true });
        await Task.Delay(1200);
        int stopped = Commands().Length;
        await Task.Delay(2500);
        Commands().Length.Should().Be(stopped, "a disabled reclaimer sends nothing");
    }

    [Fact]
    public async Task The_compactor_writes_compact_memory_each_period_when_enough_free_memory_is_fragmented()
    {
        await using var agent = Start();
        await using var client = await agent.ConnectAsync();

        // 400 + 100·2 + 10·4 + 200 = 840 free movable pages below order 9: more than a threshold of 500, less than 1000.
        await client.MemAgentCompactSetAsync(new MemAgentCompactConfig { PeriodSecs = 1, CompactThreshold = 1000 });
        await Task.Delay(3000);
        File.ReadAllText(PathOf("proc/sys/vm/compact_memory")).Should().BeEmpty("840 fragmented pages are below the threshold of 1000");

        await client.MemAgentCompactSetAsync(new MemAgentCompactConfig { CompactThreshold = 500 });
        await Eventually(() => File.ReadAllText(PathOf("proc/sys/vm/compact_memory")) == "1", "compaction runs: 1 written to compact_memory", agent);
        (await agent.WaitForOutputAsync("mem-agent: compacting memory")).Should().Contain("mem-agent: compacting memory");

        // Nothing grew since that compaction: no second one, unless forced after compact_force_times idle checks.
        File.WriteAllText(PathOf("proc/sys/vm/compact_memory"), "");
        await Task.Delay(2500);
        File.ReadAllText(PathOf("proc/sys/vm/compact_memory")).Should().BeEmpty("fragmentation did not grow by the threshold since");
        await client.MemAgentCompactSetAsync(new MemAgentCompactConfig { CompactForceTimes = 1 });
        await Eventually(() => File.ReadAllText(PathOf("proc/sys/vm/compact_memory")) == "1", "compact_force_times forces one", agent);
    }

    [Fact]
    public async Task Bad_settings_name_the_field_and_a_disabled_mem_agent_refuses_them()
    {
        await using (var agent = Start())
        await using (var client = await agent.ConnectAsync())
        {
            async Task Invalid(Func<Task> call, string detail)
            {
                var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
                error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument, error.Detail);
                error.Detail.Should().Be(detail);
            }

            await Invalid(() => client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { SwappinessMax = 201 }), "swappiness_max: 201 is above 200");
            await Invalid(() => client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { PeriodSecs = 0 }), "period_secs: 0 is not in 1..2147483647 seconds");
            await Invalid(() => client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { EvictionPsiPercentLimit = 101 }), "eviction_psi_percent_limit: 101 is above 100");
            await Invalid(() => client.MemAgentCompactSetAsync(new MemAgentCompactConfig { CompactOrder = 11 }), "compact_order: 11 is above 10");
            await Invalid(() => client.MemAgentCompactSetAsync(new MemAgentCompactConfig { CompactSecMax = 0 }), "compact_sec_max: 0 is not in 1..2147483647 seconds");
            // An empty request changes nothing and is fine (every field is optional).
            await client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig());
        }

        await using (var agent = Start(enable: false))
        await using (var client = await agent.ConnectAsync())
        {
            var call = async () => await client.MemAgentCompactSetAsync(new MemAgentCompactConfig { PeriodSecs = 60 });
            var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
            error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
            error.Detail.Should().Be("the mem-agent is disabled: boot the guest with agent.mem_agent_enable to run it");
        }
    }

    [Fact]
    public async Task Without_MGLRU_the_memcg_reclaimer_is_refused_naming_what_is_missing_and_compaction_still_works()
    {
        await using var agent = Start(withMglru: false);
        await using var client = await agent.ConnectAsync();

        var call = async () => await client.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { PeriodSecs = 1 });
        var error = (await call.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        error.Detail.Should().Contain("lru_gen/enabled").And.Contain("CONFIG_LRU_GEN");

        await client.MemAgentCompactSetAsync(new MemAgentCompactConfig { PeriodSecs = 1, CompactThreshold = 100 });
        await Eventually(() => File.ReadAllText(PathOf("proc/sys/vm/compact_memory")) == "1", "the compactor does not need MGLRU", agent);
    }
}
