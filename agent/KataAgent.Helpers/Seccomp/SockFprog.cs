using System.Runtime.InteropServices;

namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// struct sock_fprog (linux/filter.h): <c>{ unsigned short len; struct sock_filter *filter; }</c>.
/// Sequential layout gives the C padding: 16 bytes, filter at offset 8 on 64-bit.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SockFprog
{
    /// <summary>Number of instructions (not bytes).</summary>
    public ushort Length;

    /// <summary>The first instruction; must stay fixed while the kernel copies the program.</summary>
    public SockFilter* Filter;
}
