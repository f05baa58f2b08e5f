using System.CommandLine;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl logs ID [-f]</c>: the agent's log lines of a sandbox, as qemu wrote them from the
/// guest's agent.log.0 port into the sandbox's agent.log. <c>-f</c> keeps printing new lines
/// until the VM is gone or kactl is interrupted.
/// </summary>
public sealed class LogsCommand
{
    public const string Name = "logs";

    // The file is written by qemu, which cannot tell us about new lines; a short poll is what tail -f does too.
    private static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(200);

    private readonly Argument<string> _id = new("ID")
    {
        Description = "Sandbox id (or a unique prefix)",
    };

    private readonly Option<bool> _follow = new("--follow", "-f")
    {
        Description = "Keep printing new lines until the VM stops (or Ctrl-C, which ends with exit code 0)",
    };

    public LogsCommand()
    {
        Command = new Command(Name, "Print a sandbox's agent log (the guest's agent.log.0 port, kept in its state directory)")
        {
            _id,
            _follow,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var entry = RunDirectory.FromEnvironment().Find(parseResult.GetRequiredValue(_id));
        bool follow = parseResult.GetValue(_follow);
        if (!File.Exists(entry.AgentLogPath) && !(follow && entry.State == SandboxLiveness.Running))
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' has no agent log ({entry.AgentLogPath} does not exist)");
        }
        long offset = 0;
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                // Read before the liveness check: once qemu is gone, one more read gets its last lines.
                bool running = follow && QemuVm.IsRunningIn(entry.Directory);
                if (CopyNew(entry.AgentLogPath, offset, buffer) is not { } next)
                {
                    // Our reader went away (e.g. | head): nothing more to do.
                    return ExitCodes.Success;
                }
                offset = next;
                if (!running)
                {
                    return ExitCodes.Success;
                }
                await Task.Delay(FollowInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl-C is how one stops following.
            return ExitCodes.Success;
        }
    }

    /// <summary>Copies what the file has beyond <paramref name="offset"/> to stdout; returns the new offset, null once stdout's reader is gone.</summary>
    private static long? CopyNew(string path, long offset, byte[] buffer)
    {
        if (!File.Exists(path))
        {
            return offset;
        }
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (file.Length < offset)
        {
            // Truncated under us (not something qemu does): start over rather than print nothing forever.
            offset = 0;
        }
        file.Position = offset;
        int n;
        while ((n = file.Read(buffer)) > 0)
        {
            if (!StandardStreams.WriteAll(StandardStreams.Stdout, buffer.AsSpan(0, n)))
            {
                return null;
            }
            offset += n;
        }
        return offset;
    }
}
