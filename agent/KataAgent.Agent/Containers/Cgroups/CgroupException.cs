using KataAgent.Agent.Errors;
using LinuxErrno = KataAgent.Linux.Interop.Errno;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// A cgroup operation failed. The message names the cgroup file and, when a controller file is
/// missing, the controller that is not available, so a runtime can tell "the guest kernel lacks
/// memory accounting" from "the value was refused". The kind is decided here, where the errno's
/// meaning is known: a value the kernel refused (EINVAL, ERANGE) is the request's fault, anything
/// else (a missing controller, a path or limit this guest cannot apply) is a failed precondition.
/// </summary>
public sealed class CgroupException : AgentException
{
    public CgroupException(string message, string? filePath = null, string? controller = null, int errno = 0, Exception? inner = null)
        : base(errno is LinuxErrno.EINVAL or LinuxErrno.ERANGE ? AgentErrorKind.InvalidArgument : AgentErrorKind.FailedPrecondition, null, message, inner)
    {
        FilePath = filePath;
        Controller = controller;
        Errno = errno;
    }

    /// <summary>The cgroup interface file involved, when there is one.</summary>
    public string? FilePath { get; }

    /// <summary>The controller the file belongs to (e.g. "memory"); null for core cgroup.* files.</summary>
    public string? Controller { get; }

    /// <summary>The errno of the failed system call, or 0 when the failure was not a system call's.</summary>
    public int Errno { get; }
}
