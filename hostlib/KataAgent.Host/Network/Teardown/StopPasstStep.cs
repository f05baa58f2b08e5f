using System.Globalization;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// Stops the passt whose pid file this is, if that pid is still our passt (its command line names our
/// socket: after a reboot or a long time the pid may belong to something else). passt daemonizes, so it
/// is nobody's child here; SIGTERM, then SIGKILL after a grace.
/// </summary>
internal sealed record StopPasstStep(string PidFile, string Socket) : UndoStep
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    public override string Describe() => $"stop passt (pid file {PidFile})";

    public override void Undo(UndoContext context)
    {
        if (!File.Exists(PidFile) || !int.TryParse(File.ReadAllText(PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || !IsOurs(pid))
        {
            return;
        }
        _ = Libc.Kill(pid, Libc.SIGTERM);
        var deadline = DateTime.UtcNow + StopTimeout;
        while (!HasExited(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                _ = Libc.Kill(pid, Libc.SIGKILL);
                deadline = DateTime.MaxValue;
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>
    /// Gone, or dead and waiting to be reaped (whoever adopted it reaps it, maybe late). Its command line
    /// empties while it is still exiting, so that is no sign of the end.
    /// </summary>
    private static bool HasExited(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is 'Z' or 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private bool IsOurs(int pid)
    {
        try
        {
            string commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            return commandLine.Contains(Socket, StringComparison.Ordinal) && !HasExited(pid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
