namespace KataAgent.Image.Layers;

/// <summary>Counts the bytes read from <c>inner</c> (owned) and calls <c>report</c> every <c>step</c> bytes.</summary>
internal sealed class ProgressStream : ReadObservingStream
{
    private readonly Action<long> _report;
    private readonly long _step;
    private long _nextReport;

    /// <summary>Counts <paramref name="inner"/>, reporting every <paramref name="step"/> bytes.</summary>
    public ProgressStream(Stream inner, Action<long> report, long step)
        : base(inner, ownsInner: true)
    {
        _report = report;
        _step = step;
        _nextReport = step;
    }

    /// <inheritdoc/>
    protected override void Observe(ReadOnlySpan<byte> bytes)
    {
        if (BytesRead >= _nextReport)
        {
            _nextReport = BytesRead + _step;
            _report(BytesRead);
        }
    }
}
