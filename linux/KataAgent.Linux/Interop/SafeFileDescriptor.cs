using Microsoft.Win32.SafeHandles;

namespace KataAgent.Linux.Interop;

/// <summary>
/// An fd a type owns: closed exactly once, by <see cref="System.Runtime.InteropServices.SafeHandle.Dispose()"/> or the finalizer, and never while a
/// call that took a reference (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef(ref bool)"/>) still uses it, so a thread blocked in
/// poll(2) on it cannot see the number closed and reused under it. Fd 0 is valid; -1 is not.
/// </summary>
internal sealed class SafeFileDescriptor : SafeHandleMinusOneIsInvalid
{
    /// <summary>For the marshaller.</summary>
    public SafeFileDescriptor()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Wraps <paramref name="fd"/>; closes it on dispose when <paramref name="ownsHandle"/>, else only borrows it.</summary>
    public SafeFileDescriptor(int fd, bool ownsHandle = true)
        : base(ownsHandle)
    {
        SetHandle(fd);
    }

    /// <summary>Takes ownership of the fd a call returned, or throws <see cref="LinuxException"/> for <paramref name="operation"/> when it returned -1.</summary>
    public static SafeFileDescriptor Check(int fd, string operation) => new(Libc.Check(fd, operation));

    /// <summary>Gives the fd to the caller, who must close it; this handle becomes invalid and closes nothing.</summary>
    public int Detach()
    {
        int fd = (int)handle;
        SetHandleAsInvalid();
        return fd;
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
