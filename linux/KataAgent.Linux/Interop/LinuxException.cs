using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>A failed system call: which operation, the errno and the kernel's text for it.</summary>
internal sealed class LinuxException : IOException
{
    public LinuxException(string operation, int errno)
        : this(operation, errno, null)
    {
    }

    /// <summary>With the kernel's own explanation, e.g. a netlink extended acknowledgement
    /// ("Nexthop has invalid gateway"), appended to the message.</summary>
    public LinuxException(string operation, int errno, string? kernelMessage)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} ({Interop.Errno.Name(errno)})"
            + (string.IsNullOrEmpty(kernelMessage) ? "" : $": {kernelMessage}"))
    {
        Operation = operation;
        Errno = errno;
        KernelMessage = string.IsNullOrEmpty(kernelMessage) ? null : kernelMessage;
        HResult = errno;
    }

    /// <summary>The call that failed, with enough context to act on (e.g. "bind vsock://-1:1024").</summary>
    public string Operation { get; }

    /// <summary>The errno the call set.</summary>
    public int Errno { get; }

    /// <summary>The kernel's explanation beyond the errno (netlink extended ack), when it gave one.</summary>
    public string? KernelMessage { get; }

    /// <summary>Builds the exception from the errno of the last P/Invoke on this thread.</summary>
    public static LinuxException FromLastError(string operation) =>
        new(operation, Marshal.GetLastPInvokeError());
}
