using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

internal static unsafe partial class ShimLibc
{
    public const int EADDRINUSE = 98;
    public const int SO_PEERCRED = 17;

    /// <summary>struct ucred: what SO_PEERCRED gives of a unix socket's peer as it was when it connected.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }
}
