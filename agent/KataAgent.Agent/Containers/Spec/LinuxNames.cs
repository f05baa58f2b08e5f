using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>OCI names for kernel constants: capabilities (linux/capability.h) and rlimits (asm-generic/resource.h).</summary>
public static class LinuxNames
{
    private static readonly string[] CapabilityNames =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];

    private static readonly string[] RlimitNames =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    /// <summary>Bit mask of the named capabilities; throws an INVALID_ARGUMENT <see cref="AgentException"/> naming <paramref name="field"/> for an unknown one.</summary>
    public static ulong CapabilityMask(IEnumerable<string> names, string field)
    {
        ulong mask = 0;
        foreach (string name in names)
        {
            int index = Array.IndexOf(CapabilityNames, name.ToUpperInvariant());
            if (index < 0)
            {
                throw AgentException.InvalidArgument(field, $"unknown capability '{name}'");
            }
            mask |= 1UL << index;
        }
        return mask;
    }

    public static string CapabilityName(int capability) => CapabilityNames[capability];

    public static int Rlimit(string name, string field)
    {
        int index = Array.IndexOf(RlimitNames, name.ToUpperInvariant());
        return index >= 0 ? index : throw AgentException.InvalidArgument(field, $"unknown rlimit '{name}'");
    }
}
