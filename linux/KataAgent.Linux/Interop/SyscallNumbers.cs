using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>
/// Numbers of the syscalls we make through syscall(2) because glibc has no wrapper (or, for the pidfd calls, only
/// since 2.36). Numbers differ per architecture (finit_module is 313 on x86_64, 273 on aarch64), so each call names
/// both; the build refuses other RuntimeIdentifiers (Directory.Build.props), and a process on any other architecture
/// gets <see cref="PlatformNotSupportedException"/> instead of a wrong syscall. The numbers are the kernel's
/// (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h); a unit test checks them against
/// the agent's seccomp tables.
/// </summary>
internal static class SyscallNumbers
{
    /// <summary>pidfd_send_signal(2): 424 on every architecture (the unified numbering since Linux 5.1).</summary>
    public static long PidfdSendSignal => For("pidfd_send_signal", RuntimeInformation.ProcessArchitecture);

    /// <summary>pidfd_open(2): 434 on every architecture.</summary>
    public static long PidfdOpen => For("pidfd_open", RuntimeInformation.ProcessArchitecture);

    /// <summary>openat2(2): 437 on every architecture (since Linux 5.6; glibc 2.36 has no wrapper).</summary>
    public static long OpenAt2 => For("openat2", RuntimeInformation.ProcessArchitecture);

    /// <summary>finit_module(2).</summary>
    public static long FinitModule => For("finit_module", RuntimeInformation.ProcessArchitecture);

    /// <summary>The syscalls this class knows, for the tests.</summary>
    public static IReadOnlyList<string> Names { get; } = ["pidfd_send_signal", "pidfd_open", "finit_module", "openat2"];

    /// <summary>The number of <paramref name="name"/> on <paramref name="architecture"/>.</summary>
    /// <exception cref="PlatformNotSupportedException">We have no number for that architecture.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not one of <see cref="Names"/>.</exception>
    public static long For(string name, Architecture architecture) => (name, architecture) switch
    {
        ("pidfd_send_signal", Architecture.X64 or Architecture.Arm64) => 424,
        ("pidfd_open", Architecture.X64 or Architecture.Arm64) => 434,
        ("openat2", Architecture.X64 or Architecture.Arm64) => 437,
        ("finit_module", Architecture.X64) => 313,
        ("finit_module", Architecture.Arm64) => 273,
        _ when !Names.Contains(name) => throw new ArgumentException($"no syscall number is recorded for {name}", nameof(name)),
        _ => throw new PlatformNotSupportedException(
            $"{name}(2): no syscall number for the {architecture} architecture (KataAgent supports x64 and arm64)"),
    };
}
