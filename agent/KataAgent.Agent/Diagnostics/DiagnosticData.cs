using System.Text;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Diagnostics;

/// <summary>
/// GetDiagnosticData: diagnostics a runtime cannot read from the host. The one kind is a
/// container's termination log (<c>log_type</c> <see cref="TerminationLogType"/>), which kubelet
/// reads after the container exits to fill in its termination message: when the guest has no
/// file system shared with the host, the file the container wrote never reaches the host, so the
/// runtime asks the agent. At most <see cref="MaxTerminationMessageBytes"/> bytes, kubelet's limit.
/// </summary>
public sealed class DiagnosticData(ContainerManager containers)
{
    /// <summary>The log_type of a container's termination log.</summary>
    public const string TerminationLogType = "termination-log";

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
        string file;
        if (log.Source is { } source)
        {
            file = source;
        }
        else if (!container.Init.HasExited)
        {
            // Not mounted from outside: the file lives in the container's own root, seen through its init.
            file = $"/proc/{container.Init.Pid}/root{log.MessagePath}";
        }
        else
        {
            throw AgentException.NotFound("container_id", $"container '{containerId}' has exited and had no file mounted at its termination message path {log.MessagePath}");
        }
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read);
            byte[] buffer = new byte[MaxTerminationMessageBytes];
            int total = 0, read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }
            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        catch (FileNotFoundException)
        {
            // kubelet treats a missing file as an empty message.
            return "";
        }
        catch (DirectoryNotFoundException)
        {
            return "";
        }
    }
}
