using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    public const uint IN_MODIFY = 0x00000002;
    public const uint IN_IGNORED = 0x00008000;
    public const int IN_NONBLOCK = 0x800;
    public const int IN_CLOEXEC = 0x80000;

    [LibraryImport(Library, EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int InotifyInit1(int flags);

    [LibraryImport(Library, EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int InotifyAddWatch(int fd, string path, uint mask);
}
