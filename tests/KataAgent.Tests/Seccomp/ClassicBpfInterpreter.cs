using System.Buffers.Binary;

namespace KataAgent.Tests.Seccomp;

/// <summary>
/// A classic-BPF interpreter with the checks the kernel makes before it accepts a seccomp
/// filter (bpf_check_classic + seccomp_check_filter), written from the BPF definition and not
/// from the compiler, so the two can disagree when the compiler is wrong.
/// </summary>
internal static class ClassicBpfInterpreter
{
    private const int MaxInstructions = 4096;

    // BPF classes, sizes, modes and ops (linux/bpf_common.h).
    private const int ClassLd = 0x00, ClassLdx = 0x01, ClassSt = 0x02, ClassStx = 0x03,
        ClassAlu = 0x04, ClassJmp = 0x05, ClassRet = 0x06, ClassMisc = 0x07;

    private readonly record struct Insn(ushort Code, byte Jt, byte Jf, uint K);

    /// <summary>Throws unless the kernel would accept <paramref name="program"/> as a seccomp filter.</summary>
    public static void Validate(ReadOnlySpan<byte> program)
    {
        if (program.Length == 0 || program.Length % 8 != 0)
        {
            throw new InvalidOperationException($"program length {program.Length} is not a positive multiple of 8");
        }
        var insns = Decode(program);
        if (insns.Length > MaxInstructions)
        {
            throw new InvalidOperationException($"{insns.Length} instructions exceed BPF_MAXINSNS");
        }
        for (var pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            switch (insn.Code)
            {
                case 0x20: // ld [k]: seccomp allows only aligned words inside seccomp_data
                    if (insn.K % 4 != 0 || insn.K >= SeccompData.Size)
                    {
                        throw new InvalidOperationException($"pc {pc}: load of offset {insn.K} outside seccomp_data");
                    }
                    break;
                case 0x05: // ja
                    if ((ulong)pc + 1 + insn.K >= (ulong)insns.Length)
                    {
                        throw new InvalidOperationException($"pc {pc}: ja beyond the program");
                    }
                    break;
                case 0x15 or 0x25 or 0x35 or 0x45: // jeq/jgt/jge/jset k
                    if (pc + 1 + insn.Jt >= insns.Length || pc + 1 + insn.Jf >= insns.Length)
                    {
                        throw new InvalidOperationException($"pc {pc}: conditional jump beyond the program");
                    }
                    break;
                case 0x06 or 0x16 or 0x54 or 0x44 or 0x00 or 0x01 or 0x07 or 0x87:
                    break;
                default:
                    throw new InvalidOperationException($"pc {pc}: opcode 0x{insn.Code:x2} not allowed in a seccomp filter");
            }
        }
        if (insns[^1].Code is not (0x06 or 0x16))
        {
            throw new InvalidOperationException("the last instruction is not a return");
        }
    }

    /// <summary>Runs <paramref name="program"/> on <paramref name="data"/> and returns the SECCOMP_RET_* value.</summary>
    public static uint Run(ReadOnlySpan<byte> program, SeccompData data) => Run(Decode(program), data);

    /// <summary>Decodes once for many runs.</summary>
    public static Func<SeccompData, uint> Load(ReadOnlySpan<byte> program)
    {
        var insns = Decode(program);
        return data => Run(insns, data);
    }

    private static uint Run(Insn[] insns, SeccompData data)
    {
        uint a = 0, x = 0;
        var pc = 0;
        while (true)
        {
            if (pc >= insns.Length)
            {
                throw new InvalidOperationException("fell off the end of the program");
            }
            var insn = insns[pc++];
            var cls = insn.Code & 0x07;
            switch (cls)
            {
                case ClassLd:
                    a = (insn.Code & 0xe0) switch
                    {
                        0x20 => data.Word(insn.K), // BPF_ABS, BPF_W
                        0x00 => insn.K,            // BPF_IMM
                        _ => throw new InvalidOperationException($"unsupported load 0x{insn.Code:x2}"),
                    };
                    break;
                case ClassLdx when insn.Code == 0x01:
                    x = insn.K;
                    break;
                case ClassAlu:
                    a = (insn.Code & 0xf0) switch
                    {
                        0x50 => a & insn.K,
                        0x40 => a | insn.K,
                        _ => throw new InvalidOperationException($"unsupported alu 0x{insn.Code:x2}"),
                    };
                    break;
                case ClassJmp:
                    if ((insn.Code & 0xf0) == 0x00)
                    {
                        pc += (int)insn.K;
                        break;
                    }
                    var holds = (insn.Code & 0xf0) switch
                    {
                        0x10 => a == insn.K,
                        0x20 => a > insn.K,
                        0x30 => a >= insn.K,
                        0x40 => (a & insn.K) != 0,
                        _ => throw new InvalidOperationException($"unsupported jump 0x{insn.Code:x2}"),
                    };
                    pc += holds ? insn.Jt : insn.Jf;
                    break;
                case ClassRet:
                    return (insn.Code & 0x18) == 0x10 ? a : insn.K;
                case ClassMisc:
                    if (insn.Code == 0x07)
                    {
                        x = a;
                    }
                    else
                    {
                        a = x;
                    }
                    break;
                default:
                    throw new InvalidOperationException($"unsupported opcode 0x{insn.Code:x2} (class {cls}, st/stx {ClassSt}/{ClassStx})");
            }
        }
    }

    private static Insn[] Decode(ReadOnlySpan<byte> program)
    {
        // struct sock_filter is native endian; every machine these tests run on is little endian.
        var insns = new Insn[program.Length / 8];
        for (var i = 0; i < insns.Length; i++)
        {
            var raw = program.Slice(i * 8, 8);
            insns[i] = new Insn(
                BinaryPrimitives.ReadUInt16LittleEndian(raw),
                raw[2],
                raw[3],
                BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]));
        }
        return insns;
    }
}
