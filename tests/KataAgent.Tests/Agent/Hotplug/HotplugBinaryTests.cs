using FluentAssertions;
using KataAgent.Host;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Hotplug;

/// <summary>OnlineCPUMem and MemHotplugByProbe through the published agent, its sysfs pointed at a tree the test plays the kernel in.</summary>
public class HotplugBinaryTests
{
    [Fact]
    public async Task OnlineCPUMem_onlines_hot_plugged_cpus_and_memory_blocks()
    {
        using var sysfs = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 2, onlineBlocks: 1, offlineBlocks: 2);
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = sysfs.Root });
        await using var client = await agent.ConnectAsync();

        await client.OnlineCpusAndMemoryAsync(cpus: 3, cpuOnly: false, wait: true);

        sysfs.OnlineList.Should().Be("0,1,2");
        sysfs.BlockOnline(1).Should().BeTrue();
        sysfs.BlockOnline(2).Should().BeTrue();
    }

    [Fact]
    public async Task MemHotplugByProbe_writes_to_the_probe_file_or_names_it_when_the_kernel_has_none()
    {
        using var withProbe = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 0, probe: true);
        using var withoutProbe = new FakeCpuMemorySysfs(onlineCpus: 1, offlineCpus: 0, probe: false);
        await using var agent = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = withProbe.Root });
        await using var client = await agent.ConnectAsync();
        await using var agentWithout = AgentProcess.StartOnUnixSocket(new Dictionary<string, string?> { ["KATA_AGENT_SYSFS_ROOT"] = withoutProbe.Root });
        await using var clientWithout = await agentWithout.ConnectAsync();

        await client.ProbeMemoryAsync([0x2_0000_0000UL]);
        File.ReadAllText(withProbe.ProbeFile).Should().Be("0x200000000");

        var none = async () => await clientWithout.ProbeMemoryAsync([0x2_0000_0000UL]);
        var error = (await none.Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        error.Detail.Should().StartWith("memHotplugProbeAddr: ").And.Contain(withoutProbe.ProbeFile);

        var empty = async () => await client.ProbeMemoryAsync([]);
        (await empty.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
    }
}
