using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>OCI LinuxSeccomp → a BPF program for the init helper to install.</summary>
public static class SeccompCompiler
{
    public static (byte[] Program, uint Flags) Compile(LinuxSeccomp seccomp) =>
        throw new SpecException("OCI.Linux.Seccomp", "seccomp profiles are not supported by this agent yet");
}
