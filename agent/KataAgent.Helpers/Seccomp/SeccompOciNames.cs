namespace KataAgent.Helpers.Seccomp;

/// <summary>The OCI/libseccomp spellings of actions, operators, architectures and flags.</summary>
internal static class SeccompOciNames
{
    public static SeccompAction ParseAction(string? name, string field) => name switch
    {
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompAction.KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction.KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction.Trap,
        "SCMP_ACT_ERRNO" => SeccompAction.Errno,
        "SCMP_ACT_TRACE" => SeccompAction.Trace,
        "SCMP_ACT_ALLOW" => SeccompAction.Allow,
        "SCMP_ACT_LOG" => SeccompAction.Log,
        // A NOTIFY filter needs a listener fd sent to a seccomp agent; without one every
        // notified call would block forever, so refuse the profile up front.
        "SCMP_ACT_NOTIFY" => throw new SeccompException(field,
            "SCMP_ACT_NOTIFY is not supported: the agent has no seccomp user-notification listener"),
        _ => throw new SeccompException(field, $"unknown action '{name}'"),
    };

    public static SeccompOperator ParseOperator(string? name, string field) => name switch
    {
        "SCMP_CMP_NE" => SeccompOperator.NotEqual,
        "SCMP_CMP_LT" => SeccompOperator.LessThan,
        "SCMP_CMP_LE" => SeccompOperator.LessOrEqual,
        "SCMP_CMP_EQ" => SeccompOperator.Equal,
        "SCMP_CMP_GE" => SeccompOperator.GreaterOrEqual,
        "SCMP_CMP_GT" => SeccompOperator.GreaterThan,
        "SCMP_CMP_MASKED_EQ" => SeccompOperator.MaskedEqual,
        _ => throw new SeccompException(field, $"unknown operator '{name}'"),
    };

    public static SeccompArchitecture ParseArchitecture(string? name, string field) => name switch
    {
        "SCMP_ARCH_X86" => SeccompArchitecture.X86,
        "SCMP_ARCH_X86_64" => SeccompArchitecture.X86_64,
        "SCMP_ARCH_X32" => SeccompArchitecture.X32,
        "SCMP_ARCH_ARM" => SeccompArchitecture.Arm,
        "SCMP_ARCH_AARCH64" => SeccompArchitecture.Aarch64,
        "SCMP_ARCH_MIPS" => SeccompArchitecture.Mips,
        "SCMP_ARCH_MIPS64" => SeccompArchitecture.Mips64,
        "SCMP_ARCH_MIPS64N32" => SeccompArchitecture.Mips64N32,
        "SCMP_ARCH_MIPSEL" => SeccompArchitecture.Mipsel,
        "SCMP_ARCH_MIPSEL64" => SeccompArchitecture.Mipsel64,
        "SCMP_ARCH_MIPSEL64N32" => SeccompArchitecture.Mipsel64N32,
        "SCMP_ARCH_PPC" => SeccompArchitecture.Ppc,
        "SCMP_ARCH_PPC64" => SeccompArchitecture.Ppc64,
        "SCMP_ARCH_PPC64LE" => SeccompArchitecture.Ppc64Le,
        "SCMP_ARCH_S390" => SeccompArchitecture.S390,
        "SCMP_ARCH_S390X" => SeccompArchitecture.S390X,
        "SCMP_ARCH_PARISC" => SeccompArchitecture.Parisc,
        "SCMP_ARCH_PARISC64" => SeccompArchitecture.Parisc64,
        "SCMP_ARCH_RISCV64" => SeccompArchitecture.Riscv64,
        "SCMP_ARCH_LOONGARCH64" => SeccompArchitecture.Loongarch64,
        "SCMP_ARCH_M68K" => SeccompArchitecture.M68k,
        "SCMP_ARCH_SH" => SeccompArchitecture.Sh,
        "SCMP_ARCH_SHEB" => SeccompArchitecture.Sheb,
        _ => throw new SeccompException(field, $"unknown architecture '{name}'"),
    };

    public static SeccompFilterFlags ParseFlag(string? name, string field) => name switch
    {
        "SECCOMP_FILTER_FLAG_TSYNC" => SeccompFilterFlags.Tsync,
        "SECCOMP_FILTER_FLAG_LOG" => SeccompFilterFlags.Log,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => SeccompFilterFlags.SpecAllow,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => SeccompFilterFlags.WaitKillableRecv,
        _ => throw new SeccompException(field, $"unknown flag '{name}'"),
    };
}
