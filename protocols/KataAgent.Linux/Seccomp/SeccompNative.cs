using System.Runtime.InteropServices;

namespace KataAgent.Linux.Seccomp;

/// <summary>
/// glibc's syscall(2) wrapper, used for seccomp(2), which glibc does not wrap. syscall() is
/// variadic, but on x86_64 and aarch64 Linux integer variadic arguments travel exactly like
/// fixed ones, and glibc implements it in assembly without va_arg.
/// </summary>
internal static partial class SeccompNative
{
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall3(long number, long arg1, long arg2, long arg3);
}
