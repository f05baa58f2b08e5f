namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// A cgroup operation failed. The message names the cgroup file and, when a controller file is
/// missing, the controller that is not available, so a runtime can tell "the guest kernel lacks
/// memory accounting" from "the value was refused".
/// </summary>
public sealed class CgroupException : Exception
{
    public CgroupException(string message, string? filePath = null, string? controller = null, int errno = 0, Exception? inner = null)
        : base(message, inner)
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
