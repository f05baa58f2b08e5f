using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>
/// Raw glibc entry points. One partial file per syscall family; every import is blittable and
/// sets errno so callers can throw <see cref="LinuxException"/> with the real cause.
/// </summary>
internal static unsafe partial class Libc
{
    internal const string Library = "libc";

    /// <summary>Throws <see cref="LinuxException"/> for <paramref name="operation"/> when <paramref name="result"/> is -1.</summary>
    public static int Check(int result, string operation)
    {
        if (result == -1)
        {
            throw LinuxException.FromLastError(operation);
        }
        return result;
    }

    /// <summary>As <see cref="Check(int, string)"/> for calls returning ssize_t.</summary>
    public static nint Check(nint result, string operation)
    {
        if (result == -1)
        {
            throw LinuxException.FromLastError(operation);
        }
        return result;
    }
}
