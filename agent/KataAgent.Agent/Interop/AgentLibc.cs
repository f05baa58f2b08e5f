namespace KataAgent.Agent.Interop;

/// <summary>
/// The glibc entry points only the agent calls. The ones both sides call are <c>KataAgent.Linux.Interop.Libc</c>;
/// this class holds the rest, one partial file per syscall family, every import blittable and setting errno.
/// </summary>
internal static unsafe partial class AgentLibc
{
    private const string Library = "libc";
}
