namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// The SECCOMP_RET_* values a filter returns (linux/seccomp.h). The low 16 bits are the
/// action's data (the errno for ERRNO).
/// </summary>
public static class SeccompReturnValues
{
    public const uint KillProcess = 0x80000000;
    public const uint KillThread = 0x00000000;
    public const uint Trap = 0x00030000;
    public const uint Errno = 0x00050000;
    public const uint UserNotif = 0x7fc00000;
    public const uint Trace = 0x7ff00000;
    public const uint Log = 0x7ffc0000;
    public const uint Allow = 0x7fff0000;

    /// <summary>SECCOMP_RET_DATA: the part of the return value that carries the errno.</summary>
    public const uint DataMask = 0x0000ffff;

    /// <summary>What the filter returns for a syscall beyond the profile's newest one (runc's -ENOSYS stub).</summary>
    public const uint ErrnoEnosys = Errno | 38;

    /// <summary>
    /// Returned when the audit architecture is none the profile allows, and for x86_64 numbers
    /// with the x32 bit when x32 is not allowed. libseccomp's default bad-arch action is
    /// KILL_THREAD; we kill the whole process so no half-dead process is left behind.
    /// </summary>
    public const uint BadArchitecture = KillProcess;

    private const uint DefaultErrno = 1; // EPERM, runc's choice for ERRNO and TRACE without errnoRet

    /// <summary>The 32-bit return value for <paramref name="action"/> with its optional errno/data.</summary>
    public static uint For(SeccompAction action, uint? errnoRet = null) => action switch
    {
        SeccompAction.KillThread => KillThread,
        SeccompAction.KillProcess => KillProcess,
        SeccompAction.Trap => Trap,
        SeccompAction.Errno => Errno | ((errnoRet ?? DefaultErrno) & DataMask),
        SeccompAction.Trace => Trace | ((errnoRet ?? DefaultErrno) & DataMask),
        SeccompAction.Allow => Allow,
        SeccompAction.Log => Log,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown seccomp action"),
    };
}
