using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>Shared mappings: guest RAM a vhost-user client passes as fds, and the memfds (<see cref="MemfdCreate"/>) that stand in for it in tests.</summary>
internal static unsafe partial class Libc
{
    public const int PROT_NONE = 0x0;
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_NORESERVE = 0x4000;

    /// <summary>What mmap returns on failure.</summary>
    public static readonly nint MAP_FAILED = -1;

    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Library, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);
}
