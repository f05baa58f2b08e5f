using System.Runtime.InteropServices;

namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Compiles a <see cref="SeccompProfile"/> into a classic-BPF seccomp filter with the semantics
/// runc gets from libseccomp (see README.md in this folder for the program layout):
/// the audit arch is checked first (unlisted arch: KILL_PROCESS), then the syscall number is
/// found by binary search over number ranges, and a syscall with argument rules runs its rules
/// in profile order, the first match deciding, the default action when none matches.
/// </summary>
public static class SeccompCompiler
{
    private const uint AUDIT_ARCH_X86_64 = 0xC000003E;
    private const uint AUDIT_ARCH_I386 = 0x40000003;
    private const uint AUDIT_ARCH_AARCH64 = 0xC00000B7;
    private const uint X32_SYSCALL_BIT = 0x40000000;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    private const uint OffsetNr = 0;
    private const uint OffsetArch = 4;
    private const uint OffsetArgs = 16;

    /// <summary>The machine this process runs on, or null when it is neither x86_64 nor aarch64.</summary>
    public static SeccompArchitecture? NativeArchitecture => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => SeccompArchitecture.X86_64,
        Architecture.Arm64 => SeccompArchitecture.Aarch64,
        _ => null,
    };

    /// <summary>
    /// Compiles <paramref name="profile"/>. Throws <see cref="SeccompException"/> for an invalid
    /// profile or a program over BPF_MAXINSNS.
    /// </summary>
    /// <param name="profile">The profile.</param>
    /// <param name="target">Machine to compile for: <see cref="SeccompArchitecture.X86_64"/> or
    /// <see cref="SeccompArchitecture.Aarch64"/>; null for this process's machine.</param>
    /// <param name="enosysForNewerSyscalls">runc's -ENOSYS patch: unless the default action
    /// allows (ALLOW, LOG, TRACE), syscall numbers above the highest one the profile names get
    /// ERRNO(ENOSYS) instead of the default, so programs fall back from calls newer than the
    /// profile (e.g. glibc's clone3 → clone) instead of failing with EPERM.</param>
    public static SeccompProgram Compile(SeccompProfile profile, SeccompArchitecture? target = null, bool enosysForNewerSyscalls = true)
    {
        ArgumentNullException.ThrowIfNull(profile);
        profile.Validate();

        var native = NativeArchitecture;
        var machine = target ?? native
            ?? throw new PlatformNotSupportedException("seccomp filters are compiled for x86_64 and aarch64 only");
        if (machine is not (SeccompArchitecture.X86_64 or SeccompArchitecture.Aarch64))
        {
            throw new ArgumentOutOfRangeException(nameof(target), machine, "seccomp filters are compiled for x86_64 and aarch64 only");
        }

        var defaultRet = SeccompReturnValues.For(profile.DefaultAction, profile.DefaultErrnoRet);
        var enosys = enosysForNewerSyscalls
            && profile.DefaultAction is not (SeccompAction.Allow or SeccompAction.Log or SeccompAction.Trace);
        var context = new Context(profile, defaultRet, enosys);
        var unknown = new List<string>();
        var abis = new List<SeccompArchitecture>();
        var blocks = new List<(uint AuditArch, List<Segment> Segments)>();

        if (machine == SeccompArchitecture.X86_64)
        {
            // x86_64 and x32 share AUDIT_ARCH_X86_64 and differ only by the x32 bit of the
            // number, so one block covers both halves of the number space; without x32 the
            // upper half is the bad-arch action, as libseccomp's "jge X32_SYSCALL_BIT" does.
            var segments = new List<Segment>();
            context.AddAbi(segments, SeccompArchitecture.X86_64, 0, X32_SYSCALL_BIT - 1, wideArgs: true, unknown);
            abis.Add(SeccompArchitecture.X86_64);
            if (profile.Architectures.Contains(SeccompArchitecture.X32))
            {
                // libseccomp treats x32 as a 32-bit ABI: only the low words of arguments compare.
                context.AddAbi(segments, SeccompArchitecture.X32, X32_SYSCALL_BIT, uint.MaxValue, wideArgs: false, null);
                abis.Add(SeccompArchitecture.X32);
            }
            else
            {
                Add(segments, Segment.Return(X32_SYSCALL_BIT, uint.MaxValue, SeccompReturnValues.BadArchitecture));
            }
            blocks.Add((AUDIT_ARCH_X86_64, segments));

            if (profile.Architectures.Contains(SeccompArchitecture.X86))
            {
                var i386 = new List<Segment>();
                context.AddAbi(i386, SeccompArchitecture.X86, 0, uint.MaxValue, wideArgs: false, null);
                blocks.Add((AUDIT_ARCH_I386, i386));
                abis.Add(SeccompArchitecture.X86);
            }
        }
        else
        {
            // SCMP_ARCH_ARM (32-bit compat tasks) has no table here: those tasks get the
            // bad-arch action. Every other listed arch cannot occur on this machine.
            var segments = new List<Segment>();
            context.AddAbi(segments, SeccompArchitecture.Aarch64, 0, uint.MaxValue, wideArgs: true, unknown);
            blocks.Add((AUDIT_ARCH_AARCH64, segments));
            abis.Add(SeccompArchitecture.Aarch64);
        }

        var asm = new BpfAssembler();
        asm.LoadWord(OffsetArch);
        var blockLabels = new int[blocks.Count];
        for (var b = 0; b < blocks.Count; b++)
        {
            blockLabels[b] = asm.NewLabel();
            asm.Jump(BpfOpcodes.JumpEqual, blocks[b].AuditArch, blockLabels[b], BpfAssembler.Next);
        }
        asm.Return(SeccompReturnValues.BadArchitecture);
        for (var b = 0; b < blocks.Count; b++)
        {
            asm.Place(blockLabels[b]);
            asm.LoadWord(OffsetNr);
            var segments = blocks[b].Segments;
            EmitSearch(asm, segments, 0, segments.Count - 1, defaultRet);
        }

        var instructions = asm.Assemble();
        if (instructions.Length > BpfOpcodes.MaxInstructions)
        {
            throw new SeccompException("profile",
                $"the compiled filter has {instructions.Length} instructions, more than BPF_MAXINSNS ({BpfOpcodes.MaxInstructions})");
        }

        var isNative = machine == native;
        if (isNative)
        {
            // Installing must not allocate; do the first-call binding and JIT work now.
            SeccompInstaller.Prepare();
        }
        // WAIT_KILLABLE_RECV only qualifies a notification listener, and the kernel (6.0+)
        // refuses it without SECCOMP_FILTER_FLAG_NEW_LISTENER; there is never a listener here,
        // so it is dropped rather than make every install fail. Other bits pass as given.
        var flags = profile.Flags & ~SeccompFilterFlags.WaitKillableRecv;
        return new SeccompProgram(instructions, flags, machine, abis, unknown.Distinct().ToArray(), isNative);
    }

    // Binary search over contiguous number ranges: A holds the syscall number throughout,
    // and every leaf ends in a return, so a leaf's argument loads never disturb the search.
    private static void EmitSearch(BpfAssembler asm, List<Segment> segments, int first, int last, uint defaultRet)
    {
        if (first == last)
        {
            EmitLeaf(asm, segments[first], defaultRet);
            return;
        }
        var middle = (first + last + 1) / 2;
        var upper = asm.NewLabel();
        asm.Jump(BpfOpcodes.JumpGreaterOrEqual, segments[middle].Low, upper, BpfAssembler.Next);
        EmitSearch(asm, segments, first, middle - 1, defaultRet);
        asm.Place(upper);
        EmitSearch(asm, segments, middle, last, defaultRet);
    }

    private static void EmitLeaf(BpfAssembler asm, Segment segment, uint defaultRet)
    {
        if (segment.Rules is null)
        {
            asm.Return(segment.Ret);
            return;
        }
        // One syscall with conditional rules: try them in order; a failed test skips to the next.
        foreach (var rule in segment.Rules)
        {
            if (rule.Conditions.Count == 0)
            {
                asm.Return(rule.Ret); // an unconditional rule ends the chain (always the last one)
                return;
            }
            var nextRule = asm.NewLabel();
            foreach (var condition in rule.Conditions)
            {
                EmitCondition(asm, condition, segment.WideArgs, nextRule);
            }
            asm.Return(rule.Ret);
            asm.Place(nextRule);
        }
        asm.Return(defaultRet);
    }

    // args[i] is a little-endian u64: low word at 16 + 8i, high word 4 bytes later. The high
    // words decide unless equal; only then do the low words compare, the same way.
    private static void EmitCondition(BpfAssembler asm, SeccompArgCondition condition, bool wide, int fail)
    {
        var pass = asm.NewLabel();
        var lowOffset = OffsetArgs + 8 * (uint)condition.Index;
        var value = condition.Operator == SeccompOperator.MaskedEqual ? condition.ValueTwo : condition.Value;
        var mask = condition.Value;
        var (valueHigh, valueLow) = ((uint)(value >> 32), (uint)value);
        var (maskHigh, maskLow) = ((uint)(mask >> 32), (uint)mask);

        // A masked test with a zero high mask and zero high value always holds on the high word.
        var skipHigh = condition.Operator == SeccompOperator.MaskedEqual && maskHigh == 0 && valueHigh == 0;
        if (wide && !skipHigh)
        {
            var low = asm.NewLabel();
            asm.LoadWord(lowOffset + 4);
            switch (condition.Operator)
            {
                case SeccompOperator.Equal:
                    asm.Jump(BpfOpcodes.JumpEqual, valueHigh, low, fail);
                    break;
                case SeccompOperator.NotEqual:
                    asm.Jump(BpfOpcodes.JumpEqual, valueHigh, low, pass);
                    break;
                case SeccompOperator.GreaterThan:
                case SeccompOperator.GreaterOrEqual:
                    asm.Jump(BpfOpcodes.JumpGreater, valueHigh, pass, BpfAssembler.Next);
                    asm.Jump(BpfOpcodes.JumpEqual, valueHigh, low, fail);
                    break;
                case SeccompOperator.LessThan:
                case SeccompOperator.LessOrEqual:
                    asm.Jump(BpfOpcodes.JumpGreater, valueHigh, fail, BpfAssembler.Next);
                    asm.Jump(BpfOpcodes.JumpEqual, valueHigh, low, pass);
                    break;
                case SeccompOperator.MaskedEqual:
                    asm.And(maskHigh);
                    asm.Jump(BpfOpcodes.JumpEqual, valueHigh, low, fail);
                    break;
            }
            asm.Place(low);
        }

        // On 32-bit ABIs (x32, i386) libseccomp compares the low 32 bits only.
        asm.LoadWord(lowOffset);
        switch (condition.Operator)
        {
            case SeccompOperator.Equal:
                asm.Jump(BpfOpcodes.JumpEqual, valueLow, pass, fail);
                break;
            case SeccompOperator.NotEqual:
                asm.Jump(BpfOpcodes.JumpEqual, valueLow, fail, pass);
                break;
            case SeccompOperator.GreaterThan:
                asm.Jump(BpfOpcodes.JumpGreater, valueLow, pass, fail);
                break;
            case SeccompOperator.GreaterOrEqual:
                asm.Jump(BpfOpcodes.JumpGreaterOrEqual, valueLow, pass, fail);
                break;
            case SeccompOperator.LessThan:
                asm.Jump(BpfOpcodes.JumpGreaterOrEqual, valueLow, fail, pass);
                break;
            case SeccompOperator.LessOrEqual:
                asm.Jump(BpfOpcodes.JumpGreater, valueLow, fail, pass);
                break;
            case SeccompOperator.MaskedEqual:
                if (maskLow != uint.MaxValue)
                {
                    asm.And(maskLow);
                }
                asm.Jump(BpfOpcodes.JumpEqual, valueLow, pass, fail);
                break;
        }
        asm.Place(pass);
    }

    // Appends, merging with the previous range when both simply return the same value, so a
    // run of allowed syscalls costs one leaf.
    private static void Add(List<Segment> segments, Segment segment)
    {
        if (segments.Count > 0)
        {
            var last = segments[^1];
            if (last.Rules is null && segment.Rules is null && last.Ret == segment.Ret && (ulong)last.High + 1 == segment.Low)
            {
                segments[^1] = last with { High = segment.High };
                return;
            }
        }
        segments.Add(segment);
    }

    /// <summary>A run of syscall numbers [Low, High] that returns Ret, or one number with rules.</summary>
    private readonly record struct Segment(uint Low, uint High, uint Ret, List<CompiledRule>? Rules, bool WideArgs)
    {
        public static Segment Return(uint low, uint high, uint ret) => new(low, high, ret, null, false);
    }

    private sealed record CompiledRule(uint Ret, IReadOnlyList<SeccompArgCondition> Conditions);

    private sealed class Context(SeccompProfile profile, uint defaultRet, bool enosys)
    {
        /// <summary>Adds the ranges of one ABI, covering [low, high] without gaps.</summary>
        public void AddAbi(List<Segment> segments, SeccompArchitecture abi, uint low, uint high, bool wideArgs, List<string>? unknown)
        {
            var byNumber = new SortedDictionary<uint, List<CompiledRule>>();
            long highestNamed = -1;
            var seen = new HashSet<uint>();
            foreach (var rule in profile.Rules)
            {
                var ret = SeccompReturnValues.For(rule.Action, rule.ErrnoRet);
                var alternatives = Expand(rule.Args);
                seen.Clear();
                foreach (var name in rule.Names)
                {
                    if (!SeccompSyscalls.TryGetNumber(abi, name, out var number))
                    {
                        // Unknown names are skipped, as runc does: profiles list calls of newer
                        // kernels and of other architectures.
                        unknown?.Add(name);
                        continue;
                    }
                    if (number < low || number > high || !seen.Add(number))
                    {
                        continue;
                    }
                    // runc's -ENOSYS stub counts every named syscall, whatever its action.
                    highestNamed = Math.Max(highestNamed, number);
                    if (ret == defaultRet)
                    {
                        // runc drops rules whose action is the default (libseccomp refuses them).
                        continue;
                    }
                    if (!byNumber.TryGetValue(number, out var list))
                    {
                        byNumber[number] = list = [];
                    }
                    foreach (var conditions in alternatives)
                    {
                        if (list.Count > 0 && list[^1].Conditions.Count == 0)
                        {
                            break; // an unconditional rule already decides this syscall
                        }
                        list.Add(new CompiledRule(ret, conditions));
                    }
                }
            }

            var tailRet = enosys && highestNamed >= 0 ? SeccompReturnValues.ErrnoEnosys : defaultRet;
            long next = low;
            foreach (var (number, rules) in byNumber)
            {
                if (number > next)
                {
                    Add(segments, Segment.Return((uint)next, number - 1, defaultRet));
                }
                Add(segments, rules[0].Conditions.Count == 0
                    ? Segment.Return(number, number, rules[0].Ret)
                    : new Segment(number, number, 0, rules, wideArgs));
                next = (long)number + 1;
            }
            if (highestNamed >= next)
            {
                Add(segments, Segment.Return((uint)next, (uint)highestNamed, defaultRet));
                next = highestNamed + 1;
            }
            if (next <= high)
            {
                Add(segments, Segment.Return((uint)next, high, tailRet));
            }
        }

        // Conditions on distinct arguments are ANDed in one rule. When an argument index
        // repeats, runc falls back to its older behaviour: one rule per condition, i.e. ORed.
        private static List<IReadOnlyList<SeccompArgCondition>> Expand(IReadOnlyList<SeccompArgCondition> args)
        {
            var indexes = new HashSet<int>();
            var repeated = false;
            foreach (var arg in args)
            {
                repeated |= !indexes.Add(arg.Index);
            }
            if (!repeated)
            {
                return [args];
            }
            var alternatives = new List<IReadOnlyList<SeccompArgCondition>>(args.Count);
            foreach (var arg in args)
            {
                alternatives.Add([arg]);
            }
            return alternatives;
        }
    }
}
