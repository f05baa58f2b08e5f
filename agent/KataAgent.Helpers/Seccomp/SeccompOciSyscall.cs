namespace KataAgent.Helpers.Seccomp;

/// <summary>An OCI <c>LinuxSyscall</c> as strings and raw numbers, before validation.</summary>
/// <param name="Names">The syscall names.</param>
/// <param name="Action">An <c>SCMP_ACT_*</c> name.</param>
/// <param name="ErrnoRet">The errnoRet field when present (protobuf: <c>HasErrnoret ? Errnoret : null</c>).</param>
/// <param name="Args">The argument conditions; may be null for none.</param>
public sealed record SeccompOciSyscall(
    IEnumerable<string> Names,
    string Action,
    uint? ErrnoRet = null,
    IEnumerable<SeccompOciArg>? Args = null);
