using KataAgent.Host.Checkpoints;
using Spectre.Console;

namespace KataAgent.Kactl.Checkpoints;

/// <summary>
/// Progress of a checkpoint or a restore on stderr (stdout stays the command's): a Spectre.Console bar per stage on a
/// terminal, one line per stage otherwise.
/// </summary>
public static class CheckpointDisplay
{
    /// <summary>Runs <paramref name="work"/> with its progress shown on stderr under <paramref name="label"/>.</summary>
    public static async Task<T> RunAsync<T>(string label, Func<IProgress<CheckpointProgress>, Task<T>> work)
    {
        if (!LocalTerminal.IsTerminal(StandardStreams.Stderr))
        {
            return await work(new Lines(label)).ConfigureAwait(false);
        }
        return await StderrProgress.RunAsync(
            label,
            [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new PercentageColumn(), new DownloadedColumn(), new ElapsedTimeColumn()],
            context => work(new Bars(context))).ConfigureAwait(false);
    }

    private static string Describe(CheckpointProgress value) => value.Stage switch
    {
        CheckpointStage.Checking => "checking",
        CheckpointStage.Pausing => "pausing the VM",
        CheckpointStage.SavingMemory => "saving memory and devices",
        CheckpointStage.CopyingDisks => $"copying {value.Item}",
        CheckpointStage.WritingRecords => "writing records and manifest",
        CheckpointStage.Finishing => "finishing",
        CheckpointStage.Starting => "starting qemu",
        CheckpointStage.LoadingMemory => "loading memory and devices",
        CheckpointStage.Resuming => "resuming (clock, random seed, agent)",
        _ => "done",
    };

    /// <summary>One line per stage (and per disk), for a stderr that is not a terminal.</summary>
    private sealed class Lines(string label) : IProgress<CheckpointProgress>
    {
        private readonly Lock _lock = new();
        private string? _last;

        public void Report(CheckpointProgress value)
        {
            string line = Describe(value);
            lock (_lock)
            {
                if (line == _last)
                {
                    return;
                }
                _last = line;
            }
            StandardStreams.WriteAll(StandardStreams.Stderr, System.Text.Encoding.UTF8.GetBytes($"kactl: {label}: {line}\n"));
        }
    }

    /// <summary>A bar per stage; reports come from any thread.</summary>
    private sealed class Bars(ProgressContext context) : IProgress<CheckpointProgress>
    {
        private readonly Lock _lock = new();
        private ProgressTask? _task;
        private string? _description;

        public void Report(CheckpointProgress value)
        {
            string description = Describe(value);
            lock (_lock)
            {
                if (description != _description)
                {
                    if (_task is { } done)
                    {
                        done.Value = done.MaxValue;
                        done.StopTask();
                    }
                    _description = description;
                    _task = value.Stage == CheckpointStage.Done ? null : context.AddTask(description, autoStart: true, maxValue: Math.Max(1, value.TotalBytes ?? 1));
                }
                if (_task is { } task)
                {
                    // A stage of unknown size grows its bar with what it has done.
                    task.MaxValue = Math.Max(1, value.TotalBytes ?? Math.Max(value.Bytes, 1));
                    task.Value = Math.Min(value.Bytes, task.MaxValue);
                }
            }
        }
    }
}
