using System.Runtime.InteropServices;
using FluentAssertions;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Vsock;
using Xunit;

namespace KataAgent.Tests.Linux;

/// <summary>struct sockaddr_vm must match linux/vm_sockets.h byte for byte.</summary>
public class VsockAddressTests
{
    [Fact]
    public void Layout_matches_sockaddr_vm()
    {
        Marshal.SizeOf<VsockAddress>().Should().Be(16);
        Marshal.OffsetOf<VsockAddress>(nameof(VsockAddress.Family)).ToInt32().Should().Be(0);
        Marshal.OffsetOf<VsockAddress>(nameof(VsockAddress.Reserved1)).ToInt32().Should().Be(2);
        Marshal.OffsetOf<VsockAddress>(nameof(VsockAddress.Port)).ToInt32().Should().Be(4);
        Marshal.OffsetOf<VsockAddress>(nameof(VsockAddress.Cid)).ToInt32().Should().Be(8);
        Marshal.OffsetOf<VsockAddress>(nameof(VsockAddress.Flags)).ToInt32().Should().Be(12);
    }

    [Fact]
    public unsafe void Encodes_family_port_and_cid_little_endian()
    {
        var address = new VsockAddress(VsockAddress.AnyCid, 1024);
        byte* bytes = (byte*)&address;
        new ReadOnlySpan<byte>(bytes, 16).ToArray().Should().Equal(
            40, 0, 0, 0, // AF_VSOCK, reserved
            0x00, 0x04, 0, 0, // port 1024
            0xff, 0xff, 0xff, 0xff, // VMADDR_CID_ANY
            0, 0, 0, 0);
    }

    [Fact]
    public void Connecting_where_no_transport_reaches_the_cid_fails_with_the_errno()
    {
        // The host kernel has no vsock transport to CID 3 here (no vhost-vsock): the kernel
        // answers at once, and the message names the address and the errno.
        var connect = () => VsockSocket.Connect(3, 1024);
        var error = connect.Should().Throw<LinuxException>().Which;
        error.Message.Should().Contain("vsock://3:1024");
        error.Errno.Should().BeOneOf(Errno.ENODEV, Errno.EHOSTUNREACH, Errno.ENETUNREACH, Errno.EAFNOSUPPORT, Errno.ECONNRESET, Errno.ETIMEDOUT);
    }

    [Fact]
    public void Binding_a_cid_that_is_not_ours_fails_with_EADDRNOTAVAIL()
    {
        var listen = () => VsockSocket.Listen(12345, 1024, 1);
        var error = listen.Should().Throw<LinuxException>().Which;
        error.Message.Should().Contain("vsock://12345:1024");
        error.Errno.Should().BeOneOf(Errno.EADDRNOTAVAIL, Errno.EAFNOSUPPORT);
    }
}
