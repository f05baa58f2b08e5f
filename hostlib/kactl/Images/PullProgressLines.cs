using System.Globalization;
using KataAgent.Image.Pull;

namespace KataAgent.Kactl.Images;

/// <summary>
/// Progress for a stderr that is no terminal (a log, a pipe, CI): one line per layer each time its phase changes,
/// with its bytes and, once a phase ends, the time it took and the rate. Bytes arriving within a phase print
/// nothing, so a log holds a few lines per layer however large it is. Thread-safe: the puller reports from its
/// download tasks.
/// </summary>
public sealed class PullProgressLines : IProgress<PullProgress>
{
    private readonly string _label;
    private readonly Action<string> _write;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, LayerState> _layers = [];

    /// <summary>Lines <c>kactl: LABEL: layer …</c> written through <paramref name="write"/>, times from <paramref name="clock"/>.</summary>
    public PullProgressLines(string label, Action<string> write, TimeProvider? clock = null)
    {
        _label = label;
        _write = write;
        _clock = clock ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public void Report(PullProgress value)
    {
        string? line;
        lock (_lock)
        {
            line = Next(value);
        }
        if (line is not null)
        {
            _write(line);
        }
    }

    /// <summary>The line <paramref name="value"/> calls for, or null when its layer's phase did not change.</summary>
    private string? Next(PullProgress value)
    {
        long now = _clock.GetTimestamp();
        if (_layers.TryGetValue(value.Index, out var state) && state.Phase == value.Phase)
        {
            state.Bytes = value.Bytes;
            return null;
        }
        // The time of the phase that just ended: from its first report (or the start of the one before it) to now.
        TimeSpan elapsed = state is null ? TimeSpan.Zero : _clock.GetElapsedTime(state.Since, now);
        var previous = state?.Phase;
        _layers[value.Index] = new LayerState { Phase = value.Phase, Since = now, Bytes = value.Bytes };
        return $"kactl: {_label}: layer {(value.Index + 1).ToString(CultureInfo.InvariantCulture)} {Short(value)}: {Describe(value, previous, elapsed)}";
    }

    /// <summary>What a phase change says: the bytes so far and, at the end of a phase with a duration, the time and rate.</summary>
    public static string Describe(PullProgress value, PullPhase? previous, TimeSpan elapsed)
    {
        string total = ByteSize.Format(value.Total);
        string timed = $"{ByteSize.Format(value.Bytes)} in {Seconds(elapsed)} ({ByteSize.Rate(value.Bytes, elapsed)})";
        return value.Phase switch
        {
            PullPhase.Waiting => $"waiting ({total})",
            PullPhase.Downloading => value.Bytes > 0 ? $"downloading, resuming at {ByteSize.Format(value.Bytes)} of {total}" : $"downloading {total}",
            PullPhase.AlreadyStored => $"already stored ({total})",
            PullPhase.Done => previous == PullPhase.Downloading ? $"downloaded {timed}" : $"downloaded ({total})",
            PullPhase.Unpacking => $"unpacking {total}",
            PullPhase.Unpacked => previous == PullPhase.Unpacking ? $"unpacked {timed}" : $"unpacked ({total})",
            _ => value.Phase.ToString().ToLowerInvariant(),
        };
    }

    /// <summary>A layer as docker names it: the first 12 hex digits of its digest.</summary>
    public static string Short(PullProgress value) => value.Layer.Hex.Length > 12 ? value.Layer.Hex[..12] : value.Layer.Hex;

    private static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private sealed class LayerState
    {
        public required PullPhase Phase { get; init; }

        public required long Since { get; init; }

        public long Bytes { get; set; }
    }
}
