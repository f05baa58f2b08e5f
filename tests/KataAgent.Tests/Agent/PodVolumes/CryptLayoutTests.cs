using FluentAssertions;
using KataAgent.Agent.PodVolumes;
using KataAgent.Agent.PodVolumes.Interop;
using Xunit;

namespace KataAgent.Tests.Agent.PodVolumes;

/// <summary>The encrypted volume's header and the device-mapper ioctl numbers, checked against linux/dm-ioctl.h.</summary>
public sealed class CryptLayoutTests
{
    [Fact]
    public void The_dm_ioctl_requests_are_the_kernels()
    {
        // _IOWR(DM_IOCTL = 0xfd, nr, struct dm_ioctl) with sizeof(struct dm_ioctl) = 312, as dmsetup sends them.
        DmIoctl.Request(DmIoctl.DevCreate).Should().Be(0xC138FD03);
        DmIoctl.Request(DmIoctl.DevRemove).Should().Be(0xC138FD04);
        DmIoctl.Request(DmIoctl.DevSuspend).Should().Be(0xC138FD06);
        DmIoctl.Request(DmIoctl.DevStatus).Should().Be(0xC138FD07);
        DmIoctl.Request(DmIoctl.TableLoad).Should().Be(0xC138FD09);
    }

    [Fact]
    public void A_header_round_trips_and_holds_no_key_material()
    {
        var header = CryptHeader.Create("aes-xts-plain64", 64);

        byte[] block = header.ToBlock();
        var parsed = CryptHeader.TryParse(block);

        block.Should().HaveCount(4096);
        CryptHeader.IsPresent(block).Should().BeTrue();
        parsed!.Cipher.Should().Be("aes-xts-plain64");
        parsed.KeyLength.Should().Be(64);
        parsed.DataOffsetSectors.Should().Be(2048);
        parsed.Nonce.Should().Equal(header.Nonce);
        header.Nonce.Should().HaveCount(32).And.Contain(b => b != 0, "the nonce comes from getrandom");
        CryptHeader.Create("aes-xts-plain64", 64).Nonce.Should().NotEqual(header.Nonce);
        header.CheckBlock().AsSpan(32, 32).ToArray().Should().Equal(header.Nonce);
        block.AsSpan(128).ToArray().Should().OnlyContain(b => b == 0);
    }

    [Fact]
    public void A_block_without_the_magic_or_of_another_version_is_no_header()
    {
        byte[] block = CryptHeader.Create("aes-xts-plain64", 32).ToBlock();

        CryptHeader.TryParse(new byte[4096]).Should().BeNull();
        CryptHeader.IsPresent(new byte[4096]).Should().BeFalse();
        block[16] = 2;
        CryptHeader.TryParse(block).Should().BeNull("a version this agent does not know is not read as one it does");
    }
}
