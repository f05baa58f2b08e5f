namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// What the filter does with a matched system call (the OCI <c>SCMP_ACT_*</c> names).
/// <c>SCMP_ACT_NOTIFY</c> has no member: the agent runs no user-notification listener.
/// </summary>
public enum SeccompAction
{
    /// <summary>SCMP_ACT_KILL / SCMP_ACT_KILL_THREAD: SECCOMP_RET_KILL_THREAD (0x00000000).</summary>
    KillThread,

    /// <summary>SCMP_ACT_KILL_PROCESS: SECCOMP_RET_KILL_PROCESS (0x80000000).</summary>
    KillProcess,

    /// <summary>SCMP_ACT_TRAP: SECCOMP_RET_TRAP (0x00030000), delivers SIGSYS.</summary>
    Trap,

    /// <summary>SCMP_ACT_ERRNO: SECCOMP_RET_ERRNO (0x00050000) | errno; EPERM when no errno is given.</summary>
    Errno,

    /// <summary>SCMP_ACT_TRACE: SECCOMP_RET_TRACE (0x7ff00000) | data; EPERM when no value is given (as runc).</summary>
    Trace,

    /// <summary>SCMP_ACT_ALLOW: SECCOMP_RET_ALLOW (0x7fff0000).</summary>
    Allow,

    /// <summary>SCMP_ACT_LOG: SECCOMP_RET_LOG (0x7ffc0000), allow and audit-log.</summary>
    Log,
}
