namespace KataAgent.Helpers.Seccomp;

/// <summary>The few classic-BPF opcodes the compiler emits (linux/bpf_common.h), all accepted by seccomp_check_filter.</summary>
internal static class BpfOpcodes
{
    /// <summary>BPF_LD | BPF_W | BPF_ABS: A = 32-bit word of seccomp_data at K.</summary>
    public const ushort LoadWordAbsolute = 0x20;

    /// <summary>BPF_ALU | BPF_AND | BPF_K: A &amp;= K.</summary>
    public const ushort AndK = 0x54;

    /// <summary>BPF_JMP | BPF_JA: pc += K (32-bit, so it reaches anywhere).</summary>
    public const ushort JumpAlways = 0x05;

    /// <summary>BPF_JMP | BPF_JEQ | BPF_K.</summary>
    public const ushort JumpEqual = 0x15;

    /// <summary>BPF_JMP | BPF_JGT | BPF_K (unsigned).</summary>
    public const ushort JumpGreater = 0x25;

    /// <summary>BPF_JMP | BPF_JGE | BPF_K (unsigned).</summary>
    public const ushort JumpGreaterOrEqual = 0x35;

    /// <summary>BPF_RET | BPF_K: return K.</summary>
    public const ushort ReturnK = 0x06;

    /// <summary>BPF_MAXINSNS: the kernel refuses longer programs.</summary>
    public const int MaxInstructions = 4096;

    /// <summary>Largest distance a conditional jump's 8-bit jt/jf can encode.</summary>
    public const int MaxConditionalOffset = 255;
}
