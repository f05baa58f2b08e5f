using FluentAssertions;
using KataAgent.Agent.Guest;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

public class GuestSystemTests
{
    [Fact]
    public void Memory_block_size_is_read_as_hex_and_probe_support_from_the_probe_file()
    {
        using var sysfs = new TempDirectory();
        File.WriteAllText(sysfs.File("block_size_bytes"), "8000000\n");
        var guest = new GuestSystem(sysfs.Path);
        guest.MemoryBlockSizeBytes().Should().Be(0x8000000);
        guest.SupportsMemoryHotplugProbe().Should().BeFalse();
        File.WriteAllText(sysfs.File("probe"), "");
        guest.SupportsMemoryHotplugProbe().Should().BeTrue();
    }

    [Fact]
    public void Without_memory_hotplug_the_block_size_is_zero()
    {
        using var sysfs = new TempDirectory();
        new GuestSystem(sysfs.Path).MemoryBlockSizeBytes().Should().Be(0);
    }

    [Fact]
    public void A_garbled_block_size_is_an_error_naming_the_file()
    {
        using var sysfs = new TempDirectory();
        File.WriteAllText(sysfs.File("block_size_bytes"), "zz\n");
        var read = () => new GuestSystem(sysfs.Path).MemoryBlockSizeBytes();
        read.Should().Throw<InvalidDataException>().WithMessage("*block_size_bytes*'zz'*");
    }

    [Fact]
    public void Agent_details_report_the_handlers_that_exist()
    {
        var details = new GuestSystem().AgentDetails();
        details.Version.Should().NotBeNullOrEmpty();
        details.InitDaemon.Should().BeFalse("the test host's PID 1 is not the agent");
        details.DeviceHandlers.Should().BeEmpty();
        details.StorageHandlers.Should().Equal("blk", "ephemeral", "local", "virtio-fs");
        details.SupportsSeccomp.Should().BeTrue();
    }
}
