using FluentAssertions;
using KataAgent.Host.Vsock;
using Xunit;

namespace KataAgent.Tests.Vsock;

public class VsockPacketHeaderTests
{
    [Fact]
    public void Encodes_the_44_byte_little_endian_layout_of_the_spec()
    {
        var header = new VsockPacketHeader
        {
            SrcCid = 0x0102030405060708,
            DstCid = 2,
            SrcPort = 0x11223344,
            DstPort = 1024,
            Len = 5,
            Type = 1,
            Op = VsockOp.Shutdown,
            Flags = 3,
            BufAlloc = 0x40000,
            FwdCnt = 0xdeadbeef,
        };
        byte[] raw = new byte[VsockPacketHeader.Size];

        header.Write(raw);

        raw.Should().Equal(
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // src_cid
            0x02, 0, 0, 0, 0, 0, 0, 0,                       // dst_cid
            0x44, 0x33, 0x22, 0x11,                          // src_port
            0x00, 0x04, 0, 0,                                // dst_port
            0x05, 0, 0, 0,                                   // len
            0x01, 0,                                         // type
            0x04, 0,                                         // op
            0x03, 0, 0, 0,                                   // flags
            0x00, 0x00, 0x04, 0x00,                          // buf_alloc
            0xef, 0xbe, 0xad, 0xde);                         // fwd_cnt
        VsockPacketHeader.Read(raw).Should().Be(header);
    }

    [Fact]
    public void A_short_buffer_is_refused_by_name()
    {
        var read = () => VsockPacketHeader.Read(new byte[43]);
        read.Should().Throw<ArgumentException>().WithMessage("*44 bytes*");
    }

    [Theory]
    [InlineData("CONNECT 1024", true, 1024u)]
    [InlineData("CONNECT 0", true, 0u)]
    [InlineData("CONNECT 4294967295", true, 4294967295u)]
    [InlineData("CONNECT 1024\r", true, 1024u)]
    [InlineData("CONNECT 4294967296", false, 0u)]
    [InlineData("CONNECT ", false, 0u)]
    [InlineData("CONNECT -1", false, 0u)]
    [InlineData("CONNECT 10 24", false, 0u)]
    [InlineData("connect 1024", false, 0u)]
    [InlineData("GET / HTTP/1.1", false, 0u)]
    [InlineData("", false, 0u)]
    public void Parses_only_a_CONNECT_line_with_a_decimal_port(string line, bool valid, uint port)
    {
        VirtioVsockDevice.TryParseConnect(System.Text.Encoding.ASCII.GetBytes(line), out uint parsed).Should().Be(valid);
        parsed.Should().Be(port);
    }
}
