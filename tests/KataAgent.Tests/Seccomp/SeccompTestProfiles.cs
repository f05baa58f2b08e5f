using FluentAssertions;
using KataAgent.Helpers.Seccomp;

namespace KataAgent.Tests.Seccomp;

/// <summary>Profile builders and program runners shared by the seccomp tests.</summary>
internal static class SeccompTestProfiles
{
    public const uint Eperm = 1;
    public const uint Eacces = 13;
    public const uint Enosys = 38;

    /// <summary>x86_64 numbers used by name in the tests (syscall_64.tbl).</summary>
    public const uint NrRead = 0, NrWrite = 1, NrGetpid = 39, NrClone = 56, NrMkdir = 83, NrRmdir = 84,
        NrPersonality = 135, NrMount = 165, NrClone3 = 435;

    public static SeccompRule Rule(string name, SeccompAction action, uint? errno = null, params SeccompArgCondition[] args) =>
        new([name], action, errno, args);

    public static SeccompProfile Profile(SeccompAction defaultAction, params SeccompRule[] rules) =>
        new(defaultAction, null, [], SeccompFilterFlags.None, rules);

    public static SeccompProfile WithArches(this SeccompProfile profile, params SeccompArchitecture[] arches) =>
        profile with { Architectures = arches };

    /// <summary>Compiles for x86_64 (whatever the host), checks the program as the kernel would, returns a runner.</summary>
    public static Func<SeccompData, uint> CompileX86_64(SeccompProfile profile, bool enosys = true) =>
        Load(SeccompCompiler.Compile(profile, SeccompArchitecture.X86_64, enosys));

    public static Func<SeccompData, uint> Load(SeccompProgram program)
    {
        program.Bytes.Length.Should().Be(8 * program.InstructionCount);
        ClassicBpfInterpreter.Validate(program.Bytes);
        return ClassicBpfInterpreter.Load(program.Bytes);
    }

    public static uint X64(this Func<SeccompData, uint> filter, uint nr, params ulong[] args) =>
        filter(SeccompData.Of(SeccompReferenceModel.AuditArchX86_64, nr, args));

    public static uint Errno(uint errno) => SeccompReturnValues.Errno | errno;
}
