namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Flags for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog); values from linux/seccomp.h.
/// Only the flags OCI names are parsed; NEW_LISTENER is not, since the agent runs no listener.
/// </summary>
[Flags]
public enum SeccompFilterFlags : uint
{
    None = 0,

    /// <summary>SECCOMP_FILTER_FLAG_TSYNC: install on every thread of the process.</summary>
    Tsync = 1,

    /// <summary>SECCOMP_FILTER_FLAG_LOG: audit-log every action but ALLOW.</summary>
    Log = 2,

    /// <summary>SECCOMP_FILTER_FLAG_SPEC_ALLOW: do not force the speculative store bypass mitigation.</summary>
    SpecAllow = 4,

    /// <summary>
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: only qualifies a notification listener. Parsed, but
    /// the compiler leaves it out of <see cref="SeccompProgram.Flags"/>: the kernel rejects it
    /// without NEW_LISTENER and the agent never has a listener.
    /// </summary>
    WaitKillableRecv = 32,
}
