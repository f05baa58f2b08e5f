using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// Loads a <see cref="SeccompProgram"/> into the kernel for the calling thread with
/// seccomp(SECCOMP_SET_MODE_FILTER, flags, &amp;sock_fprog). It does not set no_new_privs: the
/// caller either holds CAP_SYS_ADMIN or has done prctl(PR_SET_NO_NEW_PRIVS, 1) itself.
/// </summary>
public static unsafe class SeccompInstaller
{
    private const long SECCOMP_SET_MODE_FILTER = 1;
    private const long SECCOMP_GET_ACTION_AVAIL = 2;

    /// <summary>__NR_seccomp of this machine (glibc has no wrapper); -1 where we have no table.</summary>
    private static readonly long NativeSeccompSyscall = SeccompCompiler.NativeArchitecture switch
    {
        SeccompArchitecture.X86_64 => 317,
        SeccompArchitecture.Aarch64 => 277,
        _ => -1,
    };

    /// <summary>
    /// Installs <paramref name="program"/> on the calling thread (every thread with TSYNC).
    /// Allocates nothing and throws nothing, so it is safe right before execve on a thread
    /// that must not run the GC or unwind: the buffer is pinned with <c>fixed</c> only for
    /// the call and the syscall stub was bound when the program was compiled.
    /// </summary>
    /// <returns>0 on success, else the errno (EINVAL when the program is for another machine;
    /// ESRCH when TSYNC could not synchronise another thread).</returns>
    public static int TryInstall(SeccompProgram program) =>
        program.IsNative ? TryInstall(program.Buffer, (uint)program.Flags) : Errno.EINVAL;

    /// <summary>
    /// Installs a native program given as its raw struct sock_filter bytes and seccomp flags: the
    /// form in which a compiled program crosses a process boundary (the container init helper
    /// receives it from the agent). Same contract as <see cref="TryInstall(SeccompProgram)"/>.
    /// </summary>
    public static int TryInstall(ReadOnlySpan<byte> filterBytes, uint flags)
    {
        long number = NativeSeccompSyscall;
        if (number < 0 || filterBytes.IsEmpty || filterBytes.Length % 8 != 0 || filterBytes.Length / 8 > ushort.MaxValue)
        {
            return Errno.EINVAL;
        }
        fixed (byte* filter = filterBytes)
        {
            SockFprog prog;
            prog.Length = (ushort)(filterBytes.Length / 8);
            prog.Filter = (SockFilter*)filter;
            var result = Libc.Syscall(number, SECCOMP_SET_MODE_FILTER, flags, (long)&prog, 0, 0);
            // With TSYNC the kernel reports a thread it could not synchronise by returning that
            // thread's id instead of -1.
            return result == 0 ? 0 : result > 0 ? Errno.ESRCH : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>As <see cref="TryInstall(ReadOnlySpan{byte}, uint)"/>, throwing <see cref="LinuxException"/> on failure.</summary>
    public static void Install(ReadOnlySpan<byte> filterBytes, uint flags)
    {
        var errno = TryInstall(filterBytes, flags);
        if (errno != 0)
        {
            throw new LinuxException("seccomp(SECCOMP_SET_MODE_FILTER)", errno);
        }
    }

    /// <summary>As <see cref="TryInstall(SeccompProgram)"/>, throwing <see cref="LinuxException"/> on failure.</summary>
    public static void Install(SeccompProgram program)
    {
        var errno = TryInstall(program);
        if (errno != 0)
        {
            throw new LinuxException("seccomp(SECCOMP_SET_MODE_FILTER)", errno);
        }
    }

    /// <summary>
    /// Does the one-time work a first call would otherwise do inside <see cref="TryInstall"/>:
    /// binds the syscall() import and JIT-compiles TryInstall (a no-op under Native AOT).
    /// <see cref="SeccompCompiler.Compile"/> calls it for native programs; idempotent.
    /// </summary>
    public static void Prepare()
    {
        IsActionAvailable(SeccompReturnValues.Allow);
        RuntimeHelpers.PrepareMethod(((Func<SeccompProgram, int>)TryInstall).Method.MethodHandle);
    }

    /// <summary>
    /// seccomp(SECCOMP_GET_ACTION_AVAIL): whether the kernel knows the SECCOMP_RET_* action
    /// <paramref name="action"/> (e.g. <see cref="SeccompReturnValues.KillProcess"/>, Linux 4.14+).
    /// Harmless: it installs nothing.
    /// </summary>
    public static bool IsActionAvailable(uint action)
    {
        return NativeSeccompSyscall >= 0 && Libc.Syscall(NativeSeccompSyscall, SECCOMP_GET_ACTION_AVAIL, 0, (long)&action, 0, 0) == 0;
    }
}
