using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

/// <summary>
/// The glibc entry points only the shim needs; the shared ones (files, sockets, poll, posix_spawn, prctl) are
/// <c>linux/KataAgent.Linux/Interop</c>'s <c>Libc</c>. One partial file per syscall family, blittable, with errno kept.
/// </summary>
internal static unsafe partial class ShimLibc
{
    internal const string Library = "libc";

    /// <summary>Throws <see cref="ShimInteropException"/> for <paramref name="operation"/> when <paramref name="result"/> is -1.</summary>
    public static int Check(int result, string operation) =>
        result == -1 ? throw ShimInteropException.FromLastError(operation) : result;
}
