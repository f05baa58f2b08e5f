using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>sendmsg/recvmsg with ancillary data: fd passing (SCM_RIGHTS) for the agent's helpers and the host's vhost-user server.</summary>
internal static unsafe partial class Libc
{
    public const int SCM_RIGHTS = 1;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header; the payload follows, aligned to size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>CMSG_SPACE for <paramref name="payloadBytes"/>: the header plus the payload, both aligned to size_t.</summary>
    public static int CmsgSpace(int payloadBytes) => sizeof(CmsgHdr) + Align(payloadBytes);

    /// <summary>CMSG_LEN for <paramref name="payloadBytes"/>: what cmsg_len says for that payload.</summary>
    public static int CmsgLength(int payloadBytes) => sizeof(CmsgHdr) + payloadBytes;

    private static int Align(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    [LibraryImport(Library, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Library, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);
}
