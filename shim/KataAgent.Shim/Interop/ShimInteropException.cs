using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

/// <summary>A failed system call of the shim: which operation, and the errno with the kernel's text for it.</summary>
internal sealed class ShimInteropException : IOException
{
    public ShimInteropException(string operation, int errno)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Operation = operation;
        Errno = errno;
        HResult = errno;
    }

    /// <summary>The call that failed, with what it was called on.</summary>
    public string Operation { get; }

    /// <summary>The errno the call set (or, for posix_spawn, returned).</summary>
    public int Errno { get; }

    /// <summary>From the errno of the last P/Invoke on this thread.</summary>
    public static ShimInteropException FromLastError(string operation) => new(operation, Marshal.GetLastPInvokeError());
}
