using System.CommandLine;
using System.Text.Json;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl.Checkpoints;

/// <summary>
/// <c>kactl restore DIR [--id NEWID] [--netns PATH]</c>: restores a checkpoint as a new detached sandbox in kactl's run
/// directory (<see cref="Sandbox.RestoreAsync"/>), under NEWID or a new random id, into the pod network namespace PATH
/// (default: the one it was checkpointed in). The checkpoint is verified first; a corrupt one starts nothing. Progress
/// goes to stderr; the new sandbox's id is printed on stdout.
/// </summary>
public sealed class RestoreCommand
{
    public const string Name = "restore";

    private readonly Argument<string> _directory = new("DIR") { Description = "The checkpoint directory ('kactl checkpoint' wrote it)" };

    private readonly Option<string?> _id = new("--id") { Description = "The restored sandbox's id (default: a new random one)" };

    private readonly Option<string?> _netns = new("--netns")
    {
        Description = "The pod network namespace to restore into (/var/run/netns/NAME); default: the one it was checkpointed in",
    };

    public RestoreCommand()
    {
        Command = new Command(Name, "Restore a checkpoint as a new running sandbox (prints its id); the same checkpoint can be restored many times")
        {
            _directory,
            _id,
            _netns,
        };
        Command.Validators.Add(result =>
        {
            if (result.GetValue(_id) is { } id && !RunDirectory.IsValidId(id))
            {
                result.AddError($"--id '{id}' is not a valid sandbox id (up to 64 letters, digits, '-', '_' and '.', starting with a letter or digit)");
            }
        });
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string directory = Path.GetFullPath(parseResult.GetRequiredValue(_directory));
        var runDirectory = RunDirectory.FromEnvironment();
        string id = runDirectory.CreateSandboxDirectory(parseResult.GetValue(_id));
        string state = runDirectory.SandboxDirectory(id);
        try
        {
            var options = new SandboxRestoreOptions
            {
                StateDirectory = state,
                Id = id,
                NetworkNamespacePath = parseResult.GetValue(_netns) is { } netns ? Path.GetFullPath(netns) : null,
                // kactl's sandboxes outlive the command that started them.
                Detached = true,
            };
            var sandbox = await CheckpointDisplay.RunAsync($"restore of {directory} as {id}", progress =>
                Sandbox.RestoreAsync(directory, options, progress, cancellationToken)).ConfigureAwait(false);
            await using (sandbox.ConfigureAwait(false))
            {
                var earlier = ReadRecord(directory);
                runDirectory.Save(new RunRecord
                {
                    Id = id,
                    ContainerId = earlier?.ContainerId ?? sandbox.Containers.FirstOrDefault()?.Id ?? "",
                    CreatedAt = DateTimeOffset.UtcNow,
                    QemuPid = sandbox.Vm.ProcessId,
                    Protocol = sandbox.Vm.Options.AgentProtocol,
                    RootfsMode = sandbox.RootfsMode,
                    Args = earlier?.Args ?? [],
                    Image = earlier?.Image,
                    Pod = earlier?.Pod,
                });
            }
        }
        catch
        {
            runDirectory.Remove(id);
            throw;
        }
        await Console.Out.WriteLineAsync(id).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    /// <summary>kactl's record of the checkpointed sandbox, when <c>kactl checkpoint</c> made the checkpoint.</summary>
    private static RunRecord? ReadRecord(string directory)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(directory, CheckpointCommand.RecordFile)), RunRecordJsonContext.Default.RunRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
