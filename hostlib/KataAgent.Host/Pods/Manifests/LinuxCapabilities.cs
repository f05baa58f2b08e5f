namespace KataAgent.Host.Pods.Manifests;

/// <summary>The Linux capabilities by the names Kubernetes manifests use (without CAP_), through CAP_CHECKPOINT_RESTORE (Linux 5.9).</summary>
internal static class LinuxCapabilities
{
    /// <summary>Every capability name, and ALL.</summary>
    public static readonly IReadOnlySet<string> Names = KubernetesFields.Set(
        "ALL", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE");

    /// <summary>The name as containerd reads a manifest's: upper case, without a CAP_ prefix ("net_admin" → "NET_ADMIN").</summary>
    public static string Normalize(string name)
    {
        string upper = name.ToUpperInvariant();
        return upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper[4..] : upper;
    }
}
