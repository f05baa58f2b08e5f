using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

/// <summary>
/// The one call into the .NET runtime's own native library, which is not a public API (dotnet/runtime keeps it
/// <c>internal</c> in Interop.RegisterForSigChld.cs). Kept because nothing public does the job: as PID 1, the
/// runtime's signal thread (pal_signal.c, <c>reapAll = g_pid == 1 || …</c>) reaps every child with
/// <c>waitpid(-1)</c> whenever SIGCHLD arrives and no SIGCHLD callback is registered, stealing the statuses of the
/// container processes from <c>ProcessReaper</c>. <see cref="PosixSignalRegistration"/> for SIGCHLD runs after that
/// reaping, so it does not stop it; System.Diagnostics.Process registers a callback that reaps all as well; and a
/// signalfd would need SIGCHLD blocked on every thread, which the runtime's threads do not do. Registering our own
/// callback is what turns the runtime's reaping off.
/// </summary>
internal static unsafe partial class SystemNative
{
    /// <summary>
    /// Installs <paramref name="callback"/> as the runtime's SIGCHLD callback, called on its signal thread with
    /// (reapAll, configureConsole); it must return 0 (nonzero asks the runtime to configure the console later).
    /// Once per process.
    /// </summary>
    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_RegisterForSigChld")]
    public static partial void RegisterForSigChld(delegate* unmanaged<int, int, int> callback);
}
