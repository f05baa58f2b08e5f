using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.PodVolumes.Interop;

/// <summary>LOOP_CONFIGURE's <c>struct loop_config</c> (linux/loop.h), written field by field.</summary>
internal static unsafe class LoopIoctl
{
    /// <summary>Binds <paramref name="backingFd"/> to the loop device open on <paramref name="loopFd"/> with <paramref name="flags"/>; returns 0 or the errno.</summary>
    public static int Configure(int loopFd, int backingFd, uint flags)
    {
        byte* config = stackalloc byte[AgentLibc.LoopConfigSize];
        new Span<byte>(config, AgentLibc.LoopConfigSize).Clear();
        *(uint*)config = (uint)backingFd;
        *(uint*)(config + AgentLibc.LoopConfigFlagsOffset) = flags;
        return Libc.Ioctl(loopFd, AgentLibc.LOOP_CONFIGURE, config) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
    }
}
