using System.CommandLine;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl.Checkpoints;

/// <summary>
/// <c>kactl checkpoint ID DIR [--leave-running]</c>: checkpoints a sandbox <c>kactl run</c> started into DIR
/// (<see cref="Sandbox.CheckpointAsync"/>); without <c>--leave-running</c> the sandbox is stopped and removed, and DIR
/// is then the pod. kactl's own record of the sandbox goes with it (<c>kactl.json</c>), for <c>kactl restore</c>.
/// Progress goes to stderr; DIR is printed on stdout.
/// </summary>
public sealed class CheckpointCommand
{
    public const string Name = "checkpoint";

    /// <summary>kactl's record of the sandbox, kept beside the checkpoint's own files (not in its manifest: it is kactl's).</summary>
    internal const string RecordFile = "kactl.json";

    private readonly GlobalOptions _global;

    private readonly Argument<string> _id = new("ID") { Description = "The sandbox id (or a unique prefix), as 'kactl ps' lists it" };

    private readonly Argument<string> _directory = new("DIR") { Description = "Where to write the checkpoint: a new or empty directory" };

    private readonly Option<bool> _leaveRunning = new("--leave-running")
    {
        Description = "Keep the sandbox running after the checkpoint (a live copy) instead of stopping and removing it",
    };

    public CheckpointCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "Checkpoint a sandbox (its VM's memory, disks and records) into a directory; without --leave-running it is stopped and removed")
        {
            _id,
            _directory,
            _leaveRunning,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var runDirectory = RunDirectory.FromEnvironment();
        var entry = runDirectory.Find(parseResult.GetRequiredValue(_id));
        if (entry.State != SandboxLiveness.Running)
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' is not running ('kactl rm {entry.Id}' removes what is left)");
        }
        string directory = Path.GetFullPath(parseResult.GetRequiredValue(_directory));
        bool leaveRunning = parseResult.GetValue(_leaveRunning);
        using var attachLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attachLimit.CancelAfter(TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout)));
        var sandbox = await Sandbox.AttachAsync(entry.Directory, attachLimit.Token).ConfigureAwait(false);
        await using (sandbox.ConfigureAwait(false))
        {
            await CheckpointDisplay.RunAsync($"checkpoint of {entry.Id} into {directory}", progress =>
                sandbox.CheckpointAsync(directory, new SandboxCheckpointOptions { LeaveRunning = leaveRunning }, progress, cancellationToken)).ConfigureAwait(false);
        }
        string record = Path.Combine(entry.Directory, RunDirectory.RecordFileName);
        if (entry.Record is not null)
        {
            File.WriteAllBytes(Path.Combine(directory, RecordFile), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(entry.Record, RunRecordJsonContext.Default.RunRecord));
        }
        if (!leaveRunning)
        {
            // The library has torn the sandbox down; what kactl kept beside it goes too.
            runDirectory.Remove(entry.Id);
        }
        await Console.Out.WriteLineAsync(directory).ConfigureAwait(false);
        return ExitCodes.Success;
    }
}
