using KataAgent.Agent.Errors;
using KataAgent.Helpers.Seccomp;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>Kata's protobuf LinuxSeccomp → our compiler's profile → the BPF program the init helper installs.</summary>
public static class SeccompProfileMapper
{
    public static (byte[] Program, uint Flags) Compile(LinuxSeccomp seccomp)
    {
        try
        {
            var profile = SeccompProfile.FromOci(
                seccomp.DefaultAction,
                null,
                seccomp.Architectures,
                seccomp.Flags,
                seccomp.Syscalls.Select(s => new SeccompOciSyscall(
                    s.Names,
                    s.Action,
                    s.ErrnoRetCase == LinuxSyscall.ErrnoRetOneofCase.Errnoret ? s.Errnoret : null,
                    s.Args.Select(a => new SeccompOciArg(a.Index, a.Value, a.ValueTwo, a.Op)))));
            var program = KataAgent.Helpers.Seccomp.SeccompCompiler.Compile(profile);
            return (program.ToArray(), (uint)program.Flags);
        }
        catch (SeccompException e)
        {
            throw AgentException.InvalidArgument($"OCI.Linux.Seccomp.{e.Field}", e.Message.StartsWith(e.Field + ": ", StringComparison.Ordinal) ? e.Message[(e.Field.Length + 2)..] : e.Message);
        }
    }
}
