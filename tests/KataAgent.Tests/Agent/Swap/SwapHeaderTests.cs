using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Agent.Guest.Swap;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Swap;

/// <summary>The swap header the agent writes, against the layout and what util-linux makes of it.</summary>
public class SwapHeaderTests
{
    [Fact]
    public void The_header_has_version_1_the_last_page_and_the_signature_at_the_end_of_the_page()
    {
        var uuid = Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        byte[] page = SwapHeader.Build(sizeBytes: 64 * 4096 + 100, pageSize: 4096, uuid, "kata");

        page.Should().HaveCount(4096);
        page.AsSpan(0, 1024).ToArray().Should().OnlyContain(b => b == 0, "the boot block is left alone");
        BitConverter.ToUInt32(page, 1024).Should().Be(1u);
        SwapHeader.LastPage(page).Should().Be(63u);
        BitConverter.ToUInt32(page, 1032).Should().Be(0u, "no bad pages");
        page.AsSpan(1036, 16).ToArray().Should().Equal(uuid.ToByteArray(bigEndian: true));
        Encoding.ASCII.GetString(page, 1052, 4).Should().Be("kata");
        Encoding.ASCII.GetString(page, 4096 - 10, 10).Should().Be("SWAPSPACE2");
        SwapHeader.HasSignature(page).Should().BeTrue();
        SwapHeader.HasSignature(new byte[4096]).Should().BeFalse();
    }

    [Fact]
    public void An_area_under_ten_pages_is_refused()
    {
        var build = () => SwapHeader.Build(9 * 4096, 4096, Guid.NewGuid());
        build.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("10 pages");
    }

    [Fact]
    public async Task Blkid_reads_our_header_as_swap_with_its_uuid_and_mkswap_writes_what_we_recognise()
    {
        using var directory = new TempDirectory();
        string ours = directory.File("ours.img");
        var uuid = Guid.NewGuid();
        byte[] image = new byte[1024 * 1024];
        SwapHeader.Build(image.Length, Environment.SystemPageSize, uuid).CopyTo(image, 0);
        await File.WriteAllBytesAsync(ours, image);

        var probe = await Cli.Wrap("blkid").WithArguments(["-p", "-o", "export", ours]).ExecuteBufferedAsync();
        probe.StandardOutput.Should().Contain("TYPE=swap").And.Contain($"UUID={uuid}").And.Contain("VERSION=1");

        string theirs = directory.File("theirs.img");
        await File.WriteAllBytesAsync(theirs, new byte[1024 * 1024]);
        await Cli.Wrap("mkswap").WithArguments([theirs]).ExecuteBufferedAsync();
        byte[] first = (await File.ReadAllBytesAsync(theirs))[..Environment.SystemPageSize];
        SwapHeader.HasSignature(first).Should().BeTrue();
        SwapHeader.LastPage(first).Should().Be((uint)(1024 * 1024 / Environment.SystemPageSize - 1), "mkswap's last_page is ours for the same size");
    }
}
