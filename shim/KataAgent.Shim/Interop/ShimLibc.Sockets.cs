using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

internal static unsafe partial class ShimLibc
{
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int EADDRINUSE = 98;
    public const int SOL_SOCKET = 1;
    public const int SO_PEERCRED = 17;

    /// <summary>struct ucred: what SO_PEERCRED gives of a unix socket's peer as it was when it connected.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, void* address, uint addressLength);

    [LibraryImport(Library, EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(nint fd, int level, int name, void* value, uint* length);
}
