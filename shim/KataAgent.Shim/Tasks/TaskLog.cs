namespace KataAgent.Shim.Tasks;

/// <summary>
/// The task service's log lines, on stderr: the daemon points stderr at the bundle's <c>log</c> FIFO, which containerd
/// copies into its own log.
/// </summary>
internal static class TaskLog
{
    public static void Info(string message) => Write("info", message);

    public static void Warn(string message) => Write("warning", message);

    private static void Write(string level, string message)
    {
        try
        {
            Console.Error.WriteLine($"time=\"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffffffZ}\" level={level} msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\" runtime=io.containerd.kataagent.v2");
        }
        catch (IOException)
        {
            // Nobody reads the log any more; the task goes on.
        }
    }
}
