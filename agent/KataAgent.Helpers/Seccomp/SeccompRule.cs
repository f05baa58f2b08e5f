namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// One OCI <c>syscalls[]</c> entry: when any of <paramref name="Names"/> is called and all
/// <paramref name="Args"/> hold, the filter returns <paramref name="Action"/>.
/// </summary>
/// <param name="Names">Syscall names; names unknown to an architecture's table are skipped.</param>
/// <param name="Action">The action on a match.</param>
/// <param name="ErrnoRet">Errno (ERRNO) or tracer data (TRACE), 0..65535; null means EPERM. Ignored for other actions.</param>
/// <param name="Args">Argument tests, ANDed; when an index repeats they are ORed instead (runc's rule).</param>
public sealed record SeccompRule(
    IReadOnlyList<string> Names,
    SeccompAction Action,
    uint? ErrnoRet,
    IReadOnlyList<SeccompArgCondition> Args)
{
    /// <summary>An unconditional rule.</summary>
    public SeccompRule(IReadOnlyList<string> names, SeccompAction action, uint? errnoRet = null)
        : this(names, action, errnoRet, Array.Empty<SeccompArgCondition>())
    {
    }
}
