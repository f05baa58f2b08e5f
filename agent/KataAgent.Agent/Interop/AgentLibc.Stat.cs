using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    /// <summary>The type bits, link count and size of the file <paramref name="fd"/> is open on.</summary>
    public static (int Type, uint Links, long Size) FStat(int fd, string operation)
    {
        Libc.Statx result;
        Libc.Check(Libc.StatX(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_NLINK | Libc.STATX_SIZE, &result), operation);
        return (result.Mode & Libc.S_IFMT, result.Nlink, (long)result.Size);
    }
}
