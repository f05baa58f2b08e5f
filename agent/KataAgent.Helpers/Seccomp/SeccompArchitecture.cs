namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// The OCI/libseccomp architecture names (<c>SCMP_ARCH_*</c>). Every name libseccomp knows parses,
/// so real profiles (which list foreign architectures) are accepted; the compiler emits code only
/// for the ABIs a process on the target machine can actually use and has a table for:
/// <see cref="X86_64"/>, <see cref="X32"/> and <see cref="X86"/> on x86_64, <see cref="Aarch64"/> on aarch64.
/// </summary>
public enum SeccompArchitecture
{
    X86,
    X86_64,
    X32,
    Arm,
    Aarch64,
    Mips,
    Mips64,
    Mips64N32,
    Mipsel,
    Mipsel64,
    Mipsel64N32,
    Ppc,
    Ppc64,
    Ppc64Le,
    S390,
    S390X,
    Parisc,
    Parisc64,
    Riscv64,
    Loongarch64,
    M68k,
    Sh,
    Sheb,
}
