using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    /// <summary>mkdir(2): unlike Directory.CreateDirectory, it reports EEXIST, which cgroup creation must see.</summary>
    [LibraryImport(Library, EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MkDir(string path, uint mode);

    /// <summary>rmdir(2): the only way to remove a cgroup (its files cannot be unlinked).</summary>
    [LibraryImport(Library, EntryPoint = "rmdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int RmDir(string path);
}
