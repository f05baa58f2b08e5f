using System.Runtime.InteropServices;

namespace KataAgent.Linux.Vsock;

/// <summary>struct sockaddr_vm from linux/vm_sockets.h (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct VsockAddress
{
    /// <summary>VMADDR_CID_ANY: bind on every CID (the agent's default, written -1 in addresses).</summary>
    public const uint AnyCid = 0xFFFFFFFF;

    /// <summary>VMADDR_CID_HOST: the host, as seen from a guest.</summary>
    public const uint HostCid = 2;

    /// <summary>VMADDR_CID_LOCAL: loopback inside one kernel (vsock_loopback module).</summary>
    public const uint LocalCid = 1;

    public ushort Family;
    public ushort Reserved1;
    public uint Port;
    public uint Cid;
    public byte Flags;

    public VsockAddress(uint cid, uint port)
    {
        Family = (ushort)Interop.Libc.AF_VSOCK;
        Reserved1 = 0;
        Port = port;
        Cid = cid;
        Flags = 0;
    }
}
