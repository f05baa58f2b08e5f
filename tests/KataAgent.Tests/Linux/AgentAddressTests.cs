using System.Net;
using FluentAssertions;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Vsock;
using Xunit;

namespace KataAgent.Tests.Linux;

public class AgentAddressTests
{
    [Fact]
    public void Vsock_any_cid_is_written_minus_one()
    {
        var address = AgentAddress.Parse("vsock://-1:1024");
        address.Kind.Should().Be(AgentAddressKind.Vsock);
        address.Cid.Should().Be(VsockAddress.AnyCid);
        address.Port.Should().Be(1024);
        AgentAddress.DefaultServer.Should().Be(address);
    }

    [Fact]
    public void Vsock_with_a_cid()
    {
        var address = AgentAddress.Parse("vsock://3:2000");
        address.Cid.Should().Be(3u);
        address.Port.Should().Be(2000u);
    }

    [Fact]
    public void Hybrid_vsock_path_may_hold_colons_the_port_is_after_the_last()
    {
        var address = AgentAddress.Parse("hvsock:///run/vc/vm:x/clh.sock:1024");
        address.Kind.Should().Be(AgentAddressKind.HybridVsock);
        address.Path.Should().Be("/run/vc/vm:x/clh.sock");
        address.Port.Should().Be(1024u);
    }

    [Fact]
    public void Serial_by_device_path_and_by_port_name()
    {
        var byPath = AgentAddress.Parse("serial:///dev/vport0p1");
        byPath.Path.Should().Be("/dev/vport0p1");
        byPath.SerialPortName.Should().BeNull();

        var byName = AgentAddress.Parse("serial://agent.channel.0");
        byName.Path.Should().BeNull();
        byName.SerialPortName.Should().Be("agent.channel.0");
    }

    [Fact]
    public void Unix_path_and_abstract_name()
    {
        AgentAddress.Parse("unix:///tmp/a.sock").Path.Should().Be("/tmp/a.sock");
        var abstractName = AgentAddress.Parse("unix://@kata-agent");
        abstractName.IsAbstractUnix.Should().BeTrue();
        abstractName.Path.Should().Be("@kata-agent");
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:5000", "127.0.0.1")]
    [InlineData("tcp://127.0.0.2:5000", "127.0.0.2")]
    [InlineData("tcp://[::1]:5000", "::1")]
    [InlineData("tcp://localhost:5000", "127.0.0.1")]
    public void Tcp_on_loopback(string text, string host)
    {
        var address = AgentAddress.Parse(text);
        address.Host.Should().Be(IPAddress.Parse(host));
        address.Port.Should().Be(5000u);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/tmp/a.sock", "no scheme")]
    [InlineData("http://127.0.0.1:80", "unknown scheme 'http'")]
    [InlineData("vsock://1024", "vsock://CID:PORT")]
    [InlineData("vsock://x:1024", "CID 'x'")]
    [InlineData("vsock://-2:1024", "CID '-2'")]
    [InlineData("vsock://3:port", "port 'port'")]
    [InlineData("vsock://3:4294967296", "port '4294967296'")]
    [InlineData("hvsock://relative.sock:1024", "not absolute")]
    [InlineData("hvsock:///a.sock", "hvsock:///PATH/TO/VM.SOCK:PORT")]
    [InlineData("hvsock:///a.sock:x", "port 'x'")]
    [InlineData("serial://", "serial:///DEVICE")]
    [InlineData("serial://bad/name", "port name 'bad/name'")]
    [InlineData("unix://relative.sock", "unix:///ABSOLUTE/PATH")]
    [InlineData("tcp://10.0.0.1:80", "not a loopback address")]
    [InlineData("tcp://example.org:80", "not an IP address")]
    [InlineData("tcp://127.0.0.1:70000", "port '70000'")]
    public void Malformed_addresses_say_what_is_wrong(string text, string expected)
    {
        var parse = () => AgentAddress.Parse(text);
        parse.Should().Throw<FormatException>().Which.Message.Should().Contain(expected).And.Contain($"'{text}'");
        AgentAddress.TryParse(text, out var address, out string? error).Should().BeFalse();
        address.Should().BeNull();
        error.Should().Contain(expected);
    }

    [Fact]
    public void Unix_path_longer_than_sun_path_is_rejected()
    {
        var parse = () => AgentAddress.Parse("unix:///" + new string('a', 120));
        parse.Should().Throw<FormatException>().WithMessage("*107 bytes*");
    }
}
