using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

/// <summary>
/// The glibc entry points only the shim needs (the shared ones are in <c>linux/KataAgent.Linux/Interop</c>, which
/// the shim does not see): one partial file per syscall family, blittable, with errno kept.
/// </summary>
internal static unsafe partial class ShimLibc
{
    internal const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>Throws <see cref="ShimInteropException"/> for <paramref name="operation"/> when <paramref name="result"/> is -1.</summary>
    public static int Check(int result, string operation) =>
        result == -1 ? throw ShimInteropException.FromLastError(operation) : result;
}
