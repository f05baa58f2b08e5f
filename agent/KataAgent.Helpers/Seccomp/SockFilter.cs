using System.Runtime.InteropServices;

namespace KataAgent.Helpers.Seccomp;

/// <summary>struct sock_filter (linux/filter.h): one classic-BPF instruction, 8 bytes, native endian.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct SockFilter
{
    /// <summary>Opcode: class | size/op | mode/source.</summary>
    public readonly ushort Code;

    /// <summary>Forward offset when a conditional jump holds.</summary>
    public readonly byte Jt;

    /// <summary>Forward offset when a conditional jump fails.</summary>
    public readonly byte Jf;

    /// <summary>The constant operand (offset, immediate, JA distance or return value).</summary>
    public readonly uint K;

    public SockFilter(ushort code, byte jt, byte jf, uint k)
    {
        Code = code;
        Jt = jt;
        Jf = jf;
        K = k;
    }

    public override string ToString() => $"{{ code=0x{Code:x2}, jt={Jt}, jf={Jf}, k=0x{K:x8} }}";
}
