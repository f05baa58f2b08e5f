using System.Text;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Files;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Protocols.Guest;

namespace KataAgent.Agent.Diagnostics;

/// <summary>
/// GetDiagnosticData: diagnostics a runtime cannot read from the host. The one kind is a
/// container's termination log (<c>log_type</c> <see cref="TerminationLogType"/>), which kubelet
/// reads after the container exits to fill in its termination message: when the guest has no
/// file system shared with the host, the file the container wrote never reaches the host, so the
/// runtime asks the agent. At most <see cref="MaxTerminationMessageBytes"/> bytes, kubelet's limit.
/// The file is opened one component at a time without following links and must be a regular
/// file: a container must not turn its termination log into a way to read the guest's other files
/// (an absolute link in the container's root would otherwise resolve in the agent's).
/// </summary>
public sealed class DiagnosticData(ContainerManager containers)
{
    /// <summary>The log_type of a container's termination log, as Kata's agent and runtime spell it.</summary>
    public const string TerminationLogType = "termination_log";

    /// <summary>Kubernetes' MaxContainerTerminationMessageLength: kubelet reads no more.</summary>
    public const int MaxTerminationMessageBytes = 4096;

    public string Read(string logType, string containerId)
    {
        if (logType != TerminationLogType)
        {
            throw AgentException.InvalidArgument("log_type", $"\"{logType}\" is not a diagnostic this agent has; it has \"{TerminationLogType}\"");
        }
        var container = containers.Get(containerId);
        var log = container.TerminationLog;
        // A file mounted there from the sandbox's directory outlives the container; read it there.
        if (log.Source is { } source && source.StartsWith(GuestLayout.RunDirectory + "/", StringComparison.Ordinal))
        {
            return ReadBelow(GuestLayout.RunDirectory, source[GuestLayout.RunDirectory.Length..], containerId);
        }
        if (!container.Init.HasExited)
        {
            // Otherwise the file is in the container's own root, seen through its init while it runs.
            return ReadBelow($"/proc/{container.Init.Pid}/root", log.MessagePath, containerId);
        }
        throw AgentException.NotFound("container_id", $"container '{containerId}' has exited and its termination log {log.MessagePath} went with its root (no file below {GuestLayout.RunDirectory} was mounted there)");
    }

    /// <summary>The first bytes of the regular file <paramref name="root"/>/<paramref name="path"/>, no link followed below <paramref name="root"/>; "" when it does not exist, as kubelet reads a missing file.</summary>
    private static string ReadBelow(string root, string path, string containerId)
    {
        string[] components = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (components.Length == 0 || components.Any(c => c is "." or ".."))
        {
            throw AgentException.FailedPrecondition("container_id", $"container '{containerId}': termination log path {path} is not a normalised file path");
        }
        using var rootFd = SafeFileDescriptor.Check(Libc.Open(root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC), $"open {root}");
        SafeFileDescriptor? directory;
        try
        {
            directory = DirectoryWalk.Open(rootFd, root, components[..^1], create: false, 0, 0, 0);
        }
        catch (AgentException)
        {
            throw Refused(containerId, path);
        }
        if (directory is null)
        {
            return "";
        }
        using (directory)
        {
            // O_NONBLOCK: a FIFO planted there must not hang the call; it is refused below anyway.
            int fd = AgentLibc.OpenAt((int)directory.DangerousGetHandle(), components[^1], Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                return errno == Errno.ENOENT ? "" : errno == Errno.ELOOP ? throw Refused(containerId, path) : throw new LinuxException($"open {path}", errno);
            }
            using var file = new SafeFileDescriptor(fd);
            if (AgentLibc.FStat(fd, $"stat {path}").Type != Libc.S_IFREG)
            {
                throw Refused(containerId, path);
            }
            using var stream = new FileDescriptorStream(fd, ownsFd: false);
            byte[] buffer = new byte[MaxTerminationMessageBytes];
            int total = 0, read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }
            return Encoding.UTF8.GetString(buffer, 0, total);
        }
    }

    private static AgentException Refused(string containerId, string path) =>
        AgentException.FailedPrecondition("container_id", $"container '{containerId}': termination log {path} is a symbolic link, passes through one, or is not a regular file; it is not followed");
}
