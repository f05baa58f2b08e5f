using KataAgent.Image.Pull;
using Spectre.Console;

namespace KataAgent.Kactl.Images;

/// <summary>
/// Progress for a terminal: the label, then one Spectre.Console bar per layer on stderr, with its short digest, phase,
/// percentage, bytes and rate; stdout stays the command's. Reports come from the puller's download tasks; Spectre's tasks take them from
/// any thread and the display refreshes on its own.
/// </summary>
public sealed class PullProgressBars : IProgress<PullProgress>
{
    private readonly ProgressContext _context;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (ProgressTask Task, PullPhase Phase)> _layers = [];

    private PullProgressBars(ProgressContext context)
    {
        _context = context;
    }

    /// <summary>Runs <paramref name="work"/> with bars labelled <paramref name="label"/> shown on stderr until it ends.</summary>
    public static async Task<T> RunAsync<T>(string label, Func<IProgress<PullProgress>, Task<T>> work)
    {
        // Each bar's row: digest, phase, bar, %, bytes, rate.
        return await StderrProgress.RunAsync(
            label,
            [
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn { Width = 20 },
                new PercentageColumn(),
                new DownloadedColumn(),
                new TransferSpeedColumn(),
            ],
            context => work(new PullProgressBars(context))).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Report(PullProgress value)
    {
        lock (_lock)
        {
            if (!_layers.TryGetValue(value.Index, out var layer))
            {
                layer = (_context.AddTask(Description(value), autoStart: true, maxValue: Math.Max(1, value.Total)), value.Phase);
            }
            else if (layer.Phase != value.Phase)
            {
                // A new phase is a new measurement: unpacking starts again from zero bytes.
                if (value.Phase == PullPhase.Unpacking)
                {
                    layer.Task.Value = 0;
                }
                layer.Task.Description = Description(value);
            }
            layer.Task.MaxValue = Math.Max(1, value.Total);
            layer.Task.Value = Math.Min(value.Bytes, layer.Task.MaxValue);
            if (value.Phase is PullPhase.AlreadyStored or PullPhase.Done or PullPhase.Unpacked)
            {
                layer.Task.Value = layer.Task.MaxValue;
                layer.Task.StopTask();
            }
            _layers[value.Index] = (layer.Task, value.Phase);
        }
    }

    private string Description(PullProgress value)
    {
        string phase = value.Phase switch
        {
            PullPhase.AlreadyStored => "already stored",
            PullPhase.Done => "downloaded",
            var other => other.ToString().ToLowerInvariant(),
        };
        return Markup.Escape($"{PullProgressLines.Short(value)} {phase}");
    }
}
