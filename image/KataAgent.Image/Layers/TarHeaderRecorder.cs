namespace KataAgent.Image.Layers;

/// <summary>
/// Passes a tar stream through to <see cref="System.Formats.Tar.TarReader"/> and keeps the bytes read while it reads
/// one entry's headers, so the raw PAX records can be read again: TarReader decodes every PAX value as UTF-8, and
/// xattr values (<c>security.capability</c> above all) are binary. Counts the bytes read for the position of the next
/// header.
/// </summary>
internal sealed class TarHeaderRecorder(Stream inner) : ReadObservingStream(inner, ownsInner: false)
{
    private MemoryStream? _recording;
    private long _recordingStart;

    /// <summary>Starts keeping what is read.</summary>
    public void BeginRecording()
    {
        _recording = new MemoryStream();
        _recordingStart = BytesRead;
    }

    /// <summary>Stops keeping; returns what was read since <see cref="BeginRecording"/> and where it started.</summary>
    public (byte[] Bytes, long Start) EndRecording()
    {
        var bytes = _recording?.ToArray() ?? [];
        _recording = null;
        return (bytes, _recordingStart);
    }

    /// <inheritdoc/>
    protected override void Observe(ReadOnlySpan<byte> bytes) => _recording?.Write(bytes);
}
