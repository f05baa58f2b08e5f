using FluentAssertions;
using KataAgent.Helpers.Seccomp;
using Xunit;

namespace KataAgent.Tests.Seccomp;

/// <summary>The OCI strings → model mapping, and errors that name the offending field.</summary>
public class SeccompProfileParsingTests
{
    private static SeccompProfile Parse(params SeccompOciSyscall[] syscalls) =>
        SeccompProfile.FromOci("SCMP_ACT_ERRNO", null, ["SCMP_ARCH_X86_64"], [], syscalls);

    [Theory]
    [InlineData("SCMP_ACT_KILL", SeccompAction.KillThread, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_THREAD", SeccompAction.KillThread, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", SeccompAction.KillProcess, 0x80000000u)]
    [InlineData("SCMP_ACT_TRAP", SeccompAction.Trap, 0x00030000u)]
    [InlineData("SCMP_ACT_ERRNO", SeccompAction.Errno, 0x00050001u)]
    [InlineData("SCMP_ACT_TRACE", SeccompAction.Trace, 0x7ff00001u)]
    [InlineData("SCMP_ACT_ALLOW", SeccompAction.Allow, 0x7fff0000u)]
    [InlineData("SCMP_ACT_LOG", SeccompAction.Log, 0x7ffc0000u)]
    public void Actions_map_to_their_return_values(string name, SeccompAction action, uint ret)
    {
        var profile = SeccompProfile.FromOci(name, null, null, null, [new SeccompOciSyscall(["read"], name)]);
        profile.DefaultAction.Should().Be(action);
        profile.Rules[0].Action.Should().Be(action);
        SeccompReturnValues.For(action, null).Should().Be(ret, "ERRNO and TRACE default to EPERM as in runc");
    }

    [Fact]
    public void Errno_ret_is_carried_and_encoded()
    {
        var profile = Parse(new SeccompOciSyscall(["mkdir"], "SCMP_ACT_ERRNO", 13));
        profile.Rules[0].ErrnoRet.Should().Be(13);
        SeccompReturnValues.For(SeccompAction.Errno, 13).Should().Be(0x0005000Du);
        SeccompReturnValues.For(SeccompAction.Trace, 7).Should().Be(0x7ff00007u);
    }

    [Fact]
    public void Unknown_rule_action_names_position_and_value()
    {
        var act = () => Parse(
            new SeccompOciSyscall(["read"], "SCMP_ACT_ALLOW"),
            new SeccompOciSyscall(["write"], "SCMP_ACT_ALLOW"),
            new SeccompOciSyscall(["open"], "SCMP_ACT_ALLOW"),
            new SeccompOciSyscall(["close"], "SCMP_ACT_FOO"));
        act.Should().Throw<SeccompException>()
            .WithMessage("syscalls[3].action: unknown action 'SCMP_ACT_FOO'")
            .Which.Field.Should().Be("syscalls[3].action");
    }

    [Fact]
    public void Unknown_default_action_is_rejected()
    {
        var act = () => SeccompProfile.FromOci("SCMP_ACT_NOPE", null, null, null, null);
        act.Should().Throw<SeccompException>().WithMessage("defaultAction: unknown action 'SCMP_ACT_NOPE'");
        var empty = () => SeccompProfile.FromOci("", null, null, null, null);
        empty.Should().Throw<SeccompException>().WithMessage("defaultAction: unknown action ''");
    }

    [Fact]
    public void Notify_is_rejected_with_a_clear_reason()
    {
        var rule = () => Parse(new SeccompOciSyscall(["read"], "SCMP_ACT_NOTIFY"));
        rule.Should().Throw<SeccompException>().WithMessage("syscalls[0].action: SCMP_ACT_NOTIFY is not supported*listener*");
        var def = () => SeccompProfile.FromOci("SCMP_ACT_NOTIFY", null, null, null, null);
        def.Should().Throw<SeccompException>().WithMessage("defaultAction: SCMP_ACT_NOTIFY*");
    }

    [Fact]
    public void Unknown_operator_names_the_arg()
    {
        var act = () => Parse(new SeccompOciSyscall(["read"], "SCMP_ACT_ALLOW", null,
            [new SeccompOciArg(0, 1, 0, "SCMP_CMP_EQ"), new SeccompOciArg(1, 1, 0, "SCMP_CMP_FOO")]));
        act.Should().Throw<SeccompException>().WithMessage("syscalls[0].args[1].op: unknown operator 'SCMP_CMP_FOO'");
    }

    [Fact]
    public void Argument_index_beyond_five_is_rejected()
    {
        var act = () => Parse(
            new SeccompOciSyscall(["read"], "SCMP_ACT_ALLOW"),
            new SeccompOciSyscall(["write"], "SCMP_ACT_ALLOW", null, [new SeccompOciArg(6, 1, 0, "SCMP_CMP_EQ")]));
        act.Should().Throw<SeccompException>().WithMessage("syscalls[1].args[0].index: 6 is out of range 0..5");
    }

    [Fact]
    public void Hand_built_profile_is_validated_by_the_compiler_too()
    {
        var profile = SeccompTestProfiles.Profile(SeccompAction.Errno,
            SeccompTestProfiles.Rule("read", SeccompAction.Allow, null, new SeccompArgCondition(-1, SeccompOperator.Equal, 0)));
        var act = () => SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        act.Should().Throw<SeccompException>().WithMessage("syscalls[0].args[0].index: -1 is out of range 0..5");
    }

    [Fact]
    public void Errno_that_does_not_fit_in_ret_data_is_rejected()
    {
        var act = () => Parse(new SeccompOciSyscall(["read"], "SCMP_ACT_ERRNO", 70000));
        act.Should().Throw<SeccompException>().WithMessage("syscalls[0].errnoRet: 70000 does not fit*");
        var def = () => SeccompProfile.FromOci("SCMP_ACT_ERRNO", 65536, null, null, null);
        def.Should().Throw<SeccompException>().WithMessage("defaultErrnoRet: *");
    }

    [Fact]
    public void Empty_syscall_name_is_rejected()
    {
        var act = () => Parse(new SeccompOciSyscall(["read", ""], "SCMP_ACT_ALLOW"));
        act.Should().Throw<SeccompException>().WithMessage("syscalls[0].names[1]: empty syscall name");
    }

    [Fact]
    public void Architectures_parse_and_unknown_ones_fail()
    {
        var profile = SeccompProfile.FromOci("SCMP_ACT_ERRNO", null,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_X86"],
            null, null);
        profile.Architectures.Should().Equal(
            SeccompArchitecture.X86_64, SeccompArchitecture.X86, SeccompArchitecture.X32,
            SeccompArchitecture.Aarch64, SeccompArchitecture.Arm, SeccompArchitecture.Ppc64Le);

        var act = () => SeccompProfile.FromOci("SCMP_ACT_ERRNO", null, ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"], null, null);
        act.Should().Throw<SeccompException>().WithMessage("architectures[1]: unknown architecture 'SCMP_ARCH_VAX'");
    }

    [Fact]
    public void Flags_map_to_kernel_values_and_unknown_ones_fail()
    {
        var profile = SeccompProfile.FromOci("SCMP_ACT_ERRNO", null, null,
            ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            null);
        ((uint)profile.Flags).Should().Be(1u | 2u | 4u | 32u);

        var program = SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64);
        program.Flags.Should().Be(SeccompFilterFlags.Tsync | SeccompFilterFlags.Log | SeccompFilterFlags.SpecAllow,
            "WAIT_KILLABLE_RECV needs a notify listener, which never exists here");

        var act = () => SeccompProfile.FromOci("SCMP_ACT_ERRNO", null, null, ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NEW_LISTENER"], null);
        act.Should().Throw<SeccompException>().WithMessage("flags[1]: unknown flag 'SECCOMP_FILTER_FLAG_NEW_LISTENER'");
    }

    [Fact]
    public void Operators_and_arguments_are_carried()
    {
        var ops = new[] { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };
        var profile = Parse(new SeccompOciSyscall(["read"], "SCMP_ACT_ALLOW", null,
            ops.Select((op, i) => new SeccompOciArg((ulong)(i % 6), 0x1_0000_0000UL + (ulong)i, 7, op)).ToList()));
        profile.Rules[0].Args.Select(a => a.Operator).Should().Equal(
            SeccompOperator.NotEqual, SeccompOperator.LessThan, SeccompOperator.LessOrEqual, SeccompOperator.Equal,
            SeccompOperator.GreaterOrEqual, SeccompOperator.GreaterThan, SeccompOperator.MaskedEqual);
        profile.Rules[0].Args[6].Should().Be(new SeccompArgCondition(0, SeccompOperator.MaskedEqual, 0x1_0000_0006UL, 7));
    }
}
