using System.Text.RegularExpressions;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Guest;

/// <summary>
/// The mem-agent on a real guest kernel (Debian's cloud kernel has MGLRU, PSI and compaction):
/// booted with agent.mem_agent_enable, the agent mounts debugfs, turns MGLRU on, and after
/// MemAgentMemcgSet / MemAgentCompactSet shorten the periods, ages the guest's memory cgroups
/// through /sys/kernel/debug/lru_gen and compacts memory through /proc/sys/vm/compact_memory.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed partial class MemAgentInGuestTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_mem_agent_ages_memcgs_through_MGLRU_and_compacts_memory_on_the_periods_it_is_given()
    {
        HostTools.RequireQemu();
        await using var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, _temp.File("vm"))) with
        {
            KernelArguments = ["agent.mem_agent_enable"],
        });

        await vm.Agent.MemAgentMemcgSetAsync(new MemAgentMemcgConfig { PeriodSecs = 1, PeriodPsiPercentLimit = 100, EvictionPsiPercentLimit = 100, EvictionRunAgingCountMin = 1 });
        await vm.Agent.MemAgentCompactSetAsync(new MemAgentCompactConfig { PeriodSecs = 1, PeriodPsiPercentLimit = 100, CompactPsiPercentLimit = 100, CompactForceTimes = 0 });

        // A memcg is aged once its youngest generation is a minute old: the first ones were born at boot.
        var deadline = DateTime.UtcNow.AddSeconds(150);
        string log = vm.ConsoleTail(400);
        while (!(AgedPass().IsMatch(log) && log.Contains("mem-agent: compacting memory", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000);
            log = vm.ConsoleTail(400);
        }
        output.WriteLine(log);
        log.Should().NotContain("memcg reclaimer unavailable", "the guest kernel has MGLRU and the agent mounts debugfs");
        log.Should().MatchRegex(AgedPass().ToString(), "a memcg pass aged at least one memcg through lru_gen");
        log.Should().Contain("mem-agent: compacting memory", "compact_force_times 0 compacts every period");
        log.Should().NotContain("writing /proc/sys/vm/compact_memory failed");
        log.Should().NotContain("pass failed");
    }

    [GeneratedRegex(@"mem-agent: memcg pass: [1-9][0-9]* aging pass")]
    private static partial Regex AgedPass();
}
