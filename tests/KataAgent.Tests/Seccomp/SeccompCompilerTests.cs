using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using Xunit;
using static KataAgent.Tests.Seccomp.SeccompTestProfiles;

namespace KataAgent.Tests.Seccomp;

/// <summary>Actions, architectures, the x32 bit, rule order and runc's quirks, run on the interpreter.</summary>
public class SeccompCompilerTests
{
    private const uint I386Mkdir = 39, I386Getpid = 20, X32Mkdir = 0x40000000 | NrMkdir, X32Execve = 0x40000000 | 520;

    [Fact]
    public void Program_is_whole_sock_filter_records()
    {
        var program = SeccompCompiler.Compile(Profile(SeccompAction.Errno, Rule("read", SeccompAction.Allow)), SeccompArchitecture.X86_64);
        program.Bytes.Length.Should().Be(8 * program.InstructionCount);
        program.Instructions.Length.Should().Be(program.InstructionCount);
        program.ToArray().Should().Equal(program.Bytes.ToArray());
        program.Architecture.Should().Be(SeccompArchitecture.X86_64);
        program.Abis.Should().Equal(SeccompArchitecture.X86_64);
        // First instruction loads seccomp_data.arch: ld [4].
        program.Instructions[0].Code.Should().Be(0x20);
        program.Instructions[0].K.Should().Be(4u);
    }

    [Fact]
    public void Syscall_without_rule_gets_the_default_action()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno, Rule("mkdir", SeccompAction.Allow)));
        filter.X64(NrRead).Should().Be(Errno(Eperm));
        filter.X64(NrGetpid).Should().Be(Errno(Eperm));
        filter.X64(NrMkdir).Should().Be(SeccompReturnValues.Allow);
    }

    [Fact]
    public void Errno_rule_returns_its_errno()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Allow,
            Rule("mkdir", SeccompAction.Errno, Eacces),
            Rule("rmdir", SeccompAction.Errno)));
        filter.X64(NrMkdir).Should().Be(0x0005000Du);
        filter.X64(NrRmdir).Should().Be(Errno(Eperm), "ERRNO without errnoRet is EPERM");
        filter.X64(NrRead).Should().Be(SeccompReturnValues.Allow);
    }

    [Theory]
    [InlineData(SeccompAction.KillThread, 0x00000000u)]
    [InlineData(SeccompAction.KillProcess, 0x80000000u)]
    [InlineData(SeccompAction.Trap, 0x00030000u)]
    [InlineData(SeccompAction.Trace, 0x7ff00001u)]
    [InlineData(SeccompAction.Log, 0x7ffc0000u)]
    [InlineData(SeccompAction.Allow, 0x7fff0000u)]
    public void Every_action_is_returned(SeccompAction action, uint expected)
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno, Rule("mkdir", action)));
        filter.X64(NrMkdir).Should().Be(expected);
    }

    [Fact]
    public void Default_errno_ret_is_used()
    {
        var profile = Profile(SeccompAction.Errno, Rule("mkdir", SeccompAction.Allow)) with { DefaultErrnoRet = Eacces };
        CompileX86_64(profile).X64(NrRead).Should().Be(Errno(Eacces));
    }

    [Theory]
    [InlineData(SeccompReferenceModel.AuditArchI386)]
    [InlineData(SeccompReferenceModel.AuditArchAarch64)]
    [InlineData(0x40000028u)] // AUDIT_ARCH_ARM
    [InlineData(0u)]
    public void Foreign_architecture_is_killed(uint arch)
    {
        var filter = CompileX86_64(Profile(SeccompAction.Allow, Rule("mkdir", SeccompAction.Errno)));
        filter(SeccompData.Of(arch, NrRead)).Should().Be(SeccompReturnValues.KillProcess);
        filter(SeccompData.Of(arch, NrMkdir)).Should().Be(SeccompReturnValues.KillProcess);
    }

    [Theory]
    [InlineData(0x40000000u | NrWrite)]
    [InlineData(0x40000000u | NrMkdir)]
    [InlineData(0x40000000u + 520)]
    [InlineData(0x40000000u)]
    [InlineData(0x7fffffffu)]
    [InlineData(0x80000000u)]
    [InlineData(0xffffffffu)]
    public void X32_numbers_cannot_slip_through_when_x32_is_not_allowed(uint nr)
    {
        // Default ALLOW: a filter that forgot the x32 bit would let x32 mkdir through.
        var filter = CompileX86_64(Profile(SeccompAction.Allow, Rule("mkdir", SeccompAction.Errno)));
        filter.X64(nr).Should().Be(SeccompReturnValues.KillProcess);
        filter.X64(NrMkdir).Should().Be(Errno(Eperm));
    }

    [Fact]
    public void X32_when_allowed_uses_the_x32_table()
    {
        var profile = Profile(SeccompAction.Allow,
                Rule("mkdir", SeccompAction.Errno, Eacces),
                Rule("execve", SeccompAction.Errno, 2))
            .WithArches(SeccompArchitecture.X86_64, SeccompArchitecture.X32);
        var filter = CompileX86_64(profile);
        filter.X64(X32Mkdir).Should().Be(Errno(Eacces));
        filter.X64(X32Execve).Should().Be(Errno(2), "x32 execve is 520 | x32 bit, not 59");
        filter.X64(0x40000000 | 59).Should().Be(SeccompReturnValues.Allow, "59 | x32 bit is not a valid x32 execve");
        filter.X64(0x40000000 | NrRead).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMkdir).Should().Be(Errno(Eacces));
        filter.X64(59).Should().Be(Errno(2));
    }

    [Fact]
    public void I386_when_allowed_uses_the_i386_table()
    {
        var profile = Profile(SeccompAction.Allow, Rule("mkdir", SeccompAction.Errno, Eacces))
            .WithArches(SeccompArchitecture.X86_64, SeccompArchitecture.X86);
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        program.Abis.Should().Equal(SeccompArchitecture.X86_64, SeccompArchitecture.X86);
        var filter = Load(program);
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, I386Mkdir)).Should().Be(Errno(Eacces));
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, I386Getpid)).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrGetpid).Should().Be(SeccompReturnValues.Allow, "x86_64 39 is getpid, i386 39 is mkdir");
        filter.X64(NrMkdir).Should().Be(Errno(Eacces));
    }

    [Fact]
    public void Native_architecture_is_always_admitted()
    {
        // libseccomp always includes the native arch, whatever the profile lists.
        var profile = Profile(SeccompAction.Allow, Rule("mkdir", SeccompAction.Errno))
            .WithArches(SeccompArchitecture.X86, SeccompArchitecture.Aarch64, SeccompArchitecture.Ppc64Le);
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        program.Abis.Should().Equal(SeccompArchitecture.X86_64, SeccompArchitecture.X86);
        Load(program).X64(NrMkdir).Should().Be(Errno(Eperm));
    }

    [Fact]
    public void Aarch64_target_uses_the_generic_table()
    {
        const uint getcwd = 17, mkdirat = 34, read = 63;
        var profile = Profile(SeccompAction.Errno, Rule("mkdirat", SeccompAction.Allow), Rule("mkdir", SeccompAction.Allow))
            .WithArches(SeccompArchitecture.Aarch64, SeccompArchitecture.Arm);
        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.Aarch64);
        program.Abis.Should().Equal(SeccompArchitecture.Aarch64);
        program.UnknownSyscalls.Should().Equal("mkdir");
        var filter = Load(program);
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchAarch64, mkdirat)).Should().Be(SeccompReturnValues.Allow);
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchAarch64, getcwd)).Should().Be(Errno(Eperm));
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchAarch64, read)).Should().Be(Errno(Enosys), "63 is above the highest named call");
        filter(SeccompData.Of(0x40000028, mkdirat)).Should().Be(SeccompReturnValues.KillProcess, "ARM has no table and is not admitted");
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchX86_64, mkdirat)).Should().Be(SeccompReturnValues.KillProcess);
    }

    [Fact]
    public void Unknown_syscall_names_are_skipped_and_reported()
    {
        var program = SeccompCompiler.Compile(Profile(SeccompAction.Errno,
                new SeccompRule(["no_such_call", "mkdir", "arm_fadvise64_64"], SeccompAction.Allow),
                Rule("s390_pci_mmio_read", SeccompAction.Allow)),
            SeccompArchitecture.X86_64);
        program.UnknownSyscalls.Should().Equal("no_such_call", "arm_fadvise64_64", "s390_pci_mmio_read");
        Load(program).X64(NrMkdir).Should().Be(SeccompReturnValues.Allow);
    }

    [Fact]
    public void First_matching_rule_wins()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Errno, Eacces, new SeccompArgCondition(1, SeccompOperator.Equal, 0777)),
            Rule("mkdir", SeccompAction.Trap, null, new SeccompArgCondition(1, SeccompOperator.GreaterThan, 0700)),
            Rule("mkdir", SeccompAction.Allow),
            Rule("mkdir", SeccompAction.KillProcess)));
        filter.X64(NrMkdir, 0, 0777).Should().Be(Errno(Eacces));
        filter.X64(NrMkdir, 0, 0776).Should().Be(SeccompReturnValues.Trap);
        filter.X64(NrMkdir, 0, 0700).Should().Be(SeccompReturnValues.Allow);
    }

    [Fact]
    public void No_matching_conditional_rule_falls_back_to_the_default()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Allow, null, new SeccompArgCondition(1, SeccompOperator.Equal, 0755)),
            Rule("rmdir", SeccompAction.Allow)));
        filter.X64(NrMkdir, 0, 0755).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMkdir, 0, 0777).Should().Be(Errno(Eperm));
    }

    [Fact]
    public void Rules_with_the_default_action_are_dropped_as_runc_does()
    {
        // runc skips a rule whose action equals the default, so it cannot shadow later rules.
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Errno, null, new SeccompArgCondition(0, SeccompOperator.Equal, 1)),
            Rule("mkdir", SeccompAction.Allow)));
        filter.X64(NrMkdir, 1).Should().Be(SeccompReturnValues.Allow);
    }

    [Fact]
    public void Arguments_on_distinct_indexes_are_anded()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("mkdir", SeccompAction.Allow, null,
                new SeccompArgCondition(0, SeccompOperator.Equal, 5),
                new SeccompArgCondition(1, SeccompOperator.LessThan, 0x1_0000_0000),
                new SeccompArgCondition(5, SeccompOperator.MaskedEqual, 0xF0, 0x30))));
        filter.X64(NrMkdir, 5, 7, 0, 0, 0, 0x3F).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrMkdir, 6, 7, 0, 0, 0, 0x3F).Should().Be(Errno(Eperm));
        filter.X64(NrMkdir, 5, 0x1_0000_0000, 0, 0, 0, 0x3F).Should().Be(Errno(Eperm));
        filter.X64(NrMkdir, 5, 7, 0, 0, 0, 0x4F).Should().Be(Errno(Eperm));
    }

    [Fact]
    public void Repeated_argument_index_is_ored_as_runc_does()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Errno,
            Rule("personality", SeccompAction.Allow, null,
                new SeccompArgCondition(0, SeccompOperator.Equal, 0),
                new SeccompArgCondition(0, SeccompOperator.Equal, 8))));
        filter.X64(NrPersonality, 0).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrPersonality, 8).Should().Be(SeccompReturnValues.Allow);
        filter.X64(NrPersonality, 1).Should().Be(Errno(Eperm));
    }

    [Fact]
    public void Syscalls_newer_than_the_profile_get_enosys_like_runc()
    {
        var profile = Profile(SeccompAction.Errno, Rule("mkdir", SeccompAction.Allow), Rule("mount", SeccompAction.Errno));
        var filter = CompileX86_64(profile);
        filter.X64(NrMount).Should().Be(Errno(Eperm), "mount is named (with the default action) so it counts");
        filter.X64(NrMount + 1).Should().Be(Errno(Enosys));
        filter.X64(NrClone3).Should().Be(Errno(Enosys));
        filter.X64(0x3fffffff).Should().Be(Errno(Enosys));
        filter.X64(NrRead).Should().Be(Errno(Eperm));

        CompileX86_64(profile, enosys: false).X64(NrClone3).Should().Be(Errno(Eperm));
        CompileX86_64(profile with { DefaultAction = SeccompAction.Log }).X64(NrClone3).Should().Be(SeccompReturnValues.Log);
    }

    [Fact]
    public void Empty_profile_compiles_to_arch_check_and_default()
    {
        var filter = CompileX86_64(Profile(SeccompAction.Allow));
        filter.X64(NrRead).Should().Be(SeccompReturnValues.Allow);
        filter.X64(0x40000000).Should().Be(SeccompReturnValues.KillProcess);
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchI386, 0)).Should().Be(SeccompReturnValues.KillProcess);
    }

    [Fact]
    public void Tables_cover_recent_syscalls()
    {
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, "read", out var nr).Should().BeTrue();
        nr.Should().Be(0u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, "seccomp", out nr).Should().BeTrue();
        nr.Should().Be(317u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, "mseal", out nr).Should().BeTrue();
        nr.Should().Be(462u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86_64, "listns", out nr).Should().BeTrue();
        nr.Should().Be(470u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.Aarch64, "seccomp", out nr).Should().BeTrue();
        nr.Should().Be(277u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.Aarch64, "fchmodat2", out nr).Should().BeTrue();
        nr.Should().Be(452u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X32, "execve", out nr).Should().BeTrue();
        nr.Should().Be(0x40000208u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.X86, "socketcall", out nr).Should().BeTrue();
        nr.Should().Be(102u);
        SeccompSyscalls.TryGetNumber(SeccompArchitecture.Aarch64, "open", out _).Should().BeFalse();
        SeccompSyscalls.GetNames(SeccompArchitecture.X86_64).Count.Should().BeGreaterThan(360);
        SeccompSyscalls.HasTable(SeccompArchitecture.Arm).Should().BeFalse();
    }

    [Fact]
    public void Only_x86_64_and_aarch64_are_targets()
    {
        var act = () => SeccompCompiler.Compile(Profile(SeccompAction.Allow), SeccompArchitecture.X86);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
