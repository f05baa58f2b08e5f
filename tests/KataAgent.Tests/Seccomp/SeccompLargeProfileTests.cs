using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using Xunit;
using Xunit.Abstractions;
using static KataAgent.Tests.Seccomp.SeccompTestProfiles;

namespace KataAgent.Tests.Seccomp;

/// <summary>
/// A docker-like default profile (default ERRNO, hundreds of allowed names, a few argument
/// rules, three x86 ABIs) and a profile built to force long jumps, checked instruction by
/// instruction against <see cref="SeccompReferenceModel"/>.
/// </summary>
public class SeccompLargeProfileTests(ITestOutputHelper output)
{
    // Calls docker's default profile does not allow unconditionally.
    private static readonly HashSet<string> Denied =
    [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "clone", "clone3", "create_module",
        "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms",
        "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
        "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at",
        "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "personality", "pivot_root",
        "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot",
        "request_key", "set_mempolicy", "setdomainname", "sethostname", "settimeofday", "setns", "socket",
        "swapon", "swapoff", "_sysctl", "syslog", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
        "vm86", "vm86old", "listns", "file_setattr", "file_getattr", "open_tree_attr",
    ];

    internal static SeccompProfile DockerLike()
    {
        var allowed = SeccompSyscalls.GetNames(SeccompArchitecture.X86_64).Where(n => !Denied.Contains(n)).Order(StringComparer.Ordinal).ToList();
        // Names from other architectures and future kernels, which must be skipped.
        allowed.AddRange(["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "s390_pci_mmio_read", "socketcall", "future_call_999"]);
        var rules = new List<SeccompRule> { new(allowed, SeccompAction.Allow) };
        foreach (var persona in new ulong[] { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff })
        {
            rules.Add(Rule("personality", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.Equal, persona)));
        }
        rules.Add(Rule("clone", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.MaskedEqual, 0x7E020000, 0)));
        rules.Add(Rule("clone3", SeccompAction.Errno, Enosys));
        rules.Add(Rule("socket", SeccompAction.Allow, null, new SeccompArgCondition(0, SeccompOperator.NotEqual, 40)));
        rules.Add(new SeccompRule(["ptrace", "process_vm_readv"], SeccompAction.Errno, Eacces));
        rules.Add(Rule("ioperm", SeccompAction.Trap, null,
            new SeccompArgCondition(0, SeccompOperator.GreaterOrEqual, 0x400),
            new SeccompArgCondition(2, SeccompOperator.LessThan, 0x1_0000_0000)));
        return new SeccompProfile(SeccompAction.Errno, null,
            [SeccompArchitecture.X86_64, SeccompArchitecture.X86, SeccompArchitecture.X32],
            SeccompFilterFlags.None, rules);
    }

    [Fact]
    public void Docker_like_profile_fits_and_decides_right()
    {
        var profile = DockerLike();
        profile.Rules[0].Names.Count.Should().BeGreaterThan(300);
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        output.WriteLine($"{profile.Rules[0].Names.Count} allowed names → {program.InstructionCount} instructions");
        program.InstructionCount.Should().BeLessThan(4096);
        program.Bytes.Length.Should().Be(program.InstructionCount * 8);
        program.Abis.Should().Equal(SeccompArchitecture.X86_64, SeccompArchitecture.X32, SeccompArchitecture.X86);
        program.UnknownSyscalls.Should().Contain(["arm_fadvise64_64", "future_call_999", "socketcall"]);
        var filter = Load(program);

        filter.X64(NrRead).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrWrite).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMkdir).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMount).Should().Be(Errno(Eperm));
        filter.X64(169).Should().Be(Errno(Eperm), "reboot");
        filter.X64(NrClone, 0x01200011).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrClone, 0x10000000).Should().Be(Errno(Eperm), "CLONE_NEWUSER");
        filter.X64(NrClone3).Should().Be(Errno(Enosys));
        filter.X64(NrPersonality, 8).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrPersonality, 0xffffffff).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrPersonality, 5).Should().Be(Errno(Eperm));
        filter.X64(41, 40).Should().Be(Errno(Eperm), "socket(AF_VSOCK)");
        filter.X64(41, 2).Should().Be(SeccompReturnValues.Allow, "socket(AF_INET)");
        filter.X64(101).Should().Be(Errno(Eacces), "ptrace");
        filter.X64(173, 0x400, 0, 1).Should().Be(SeccompReturnValues.Trap, "ioperm");
        filter.X64(173, 0x3ff, 0, 1).Should().Be(Errno(Eperm));
        filter.X64(600).Should().Be(Errno(Enosys), "beyond every named call");
        filter.X64(0x40000000 | NrRead).Should().Be(SeccompReturnValues.Allow, "x32 read");
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, 3)).Should().Be(SeccompReturnValues.Allow, "i386 read");
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, 21)).Should().Be(Errno(Eperm), "i386 mount");
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchAarch64, 63)).Should().Be(SeccompReturnValues.KillProcess);
    }

    [Fact]
    public void Docker_like_profile_matches_the_reference_model_everywhere()
    {
        var profile = DockerLike();
        var filter = Load(SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64));
        var argSets = new[]
        {
            new ulong[6],
            [0x8, 0, 0, 0, 0, 0],
            [0x7E020000, 0x1_0000_0000, 0, 0, 0, 0],
            [40, 0, 0xffff_ffff, 0, 0, 0],
            [0x400, 0, 0x1_0000_0000, 0, 0, 0],
            [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
        };
        var numbers = Enumerable.Range(0, 1100).Select(n => (uint)n)
            .Concat(Enumerable.Range(0, 1100).Select(n => 0x40000000u + (uint)n))
            .Concat<uint>([0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]);
        var checks = 0;
        foreach (var arch in new[] { SeccompReferenceModel.AuditArchX86_64, SeccompReferenceModel.AuditArchI386, SeccompReferenceModel.AuditArchAarch64 })
        {
            foreach (var nr in numbers)
            {
                foreach (var args in argSets)
                {
                    var data = new SeccompData(nr, arch, args);
                    filter(data).Should().Be(SeccompReferenceModel.Evaluate(profile, SeccompArchitecture.X86_64, data),
                        $"arch 0x{arch:x8} nr 0x{nr:x} args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]");
                    checks++;
                }
            }
        }
        output.WriteLine($"{checks} evaluations agree");
    }

    [Fact]
    public void Same_profile_compiles_for_aarch64_and_matches_the_model()
    {
        var profile = DockerLike() with { Architectures = [SeccompArchitecture.Aarch64, SeccompArchitecture.Arm] };
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.Aarch64);
        program.InstructionCount.Should().BeLessThan(4096);
        var filter = Load(program);
        foreach (var nr in Enumerable.Range(0, 600).Select(n => (uint)n).Concat<uint>([0xffffffff, 0x40000000]))
        {
            foreach (var args in new[] { new ulong[6], [0x7E020000, 0, 0, 0, 0, 0], [40, 0, 0, 0, 0, 0] })
            {
                var data = new SeccompData(nr, SeccompReferenceModel.AuditArchAarch64, args);
                filter(data).Should().Be(SeccompReferenceModel.Evaluate(profile, SeccompArchitecture.Aarch64, data), $"nr {nr}");
            }
        }
    }

    [Fact]
    public void Long_jumps_go_through_trampolines()
    {
        // 150 syscalls with two-argument rules: leaves are long, so the search tree's jumps
        // span far more than 255 instructions and need JA trampolines.
        var names = SeccompSyscalls.GetNames(SeccompArchitecture.X86_64).Order(StringComparer.Ordinal).Take(150).ToList();
        var rules = names.Select((name, i) => Rule(name, SeccompAction.Errno, (uint)(i + 1),
            new SeccompArgCondition(0, SeccompOperator.GreaterThan, (ulong)i << 32),
            new SeccompArgCondition(1, SeccompOperator.NotEqual, (ulong)i))).ToArray();
        var profile = Profile(SeccompAction.Allow, rules);
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        output.WriteLine($"{program.InstructionCount} instructions");
        program.InstructionCount.Should().BeGreaterThan(600);
        program.Instructions.ToArray().Should().Contain(i => i.Code == 0x05 && i.K > 255, "a far target needs a JA trampoline");

        var filter = Load(program);
        for (var i = 0; i < names.Count; i++)
        {
            SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, names[i], out var nr);
            foreach (var args in new[] { new ulong[] { ((ulong)i << 32) + 1, 0 }, [(ulong)i << 32, 0], [ulong.MaxValue, (ulong)i] })
            {
                var data = SeccompData.Of(SeccompReferenceModel.AuditArchX86_64, nr, args);
                filter(data).Should().Be(SeccompReferenceModel.Evaluate(profile, SeccompArchitecture.X86_64, data), names[i]);
            }
        }
    }

    [Fact]
    public void Program_over_bpf_maxinsns_is_refused()
    {
        var names = SeccompSyscalls.GetNames(SeccompArchitecture.X86_64).ToList();
        var rules = names.Select(name => Rule(name, SeccompAction.Allow, null,
            new SeccompArgCondition(0, SeccompOperator.LessThan, 1),
            new SeccompArgCondition(1, SeccompOperator.LessThan, 2),
            new SeccompArgCondition(2, SeccompOperator.LessThan, 3))).ToArray();
        var act = () => SeccompCompiler.Compile(Profile(SeccompAction.Errno, rules), SeccompArchitecture.X86_64);
        act.Should().Throw<SeccompException>().WithMessage("profile: the compiled filter has * instructions, more than BPF_MAXINSNS (4096)");
    }
}
