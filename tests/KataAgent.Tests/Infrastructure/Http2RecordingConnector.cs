using KataAgent.Host.Transport;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// An <see cref="IAgentConnector"/> that records the HTTP/2 frames of every connection it opens, both ways, in the
/// order they crossed the stream: what an HTTP/2 peer really said, independent of how a client library reads it.
/// </summary>
public sealed class Http2RecordingConnector(IAgentConnector inner) : IAgentConnector
{
    /// <summary>The client's connection preface, which comes before its first frame.</summary>
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private readonly List<Http2Frame> _frames = [];
    private readonly List<byte> _fromAgent = [];
    private readonly List<byte> _fromClient = [];
    private bool _prefaceSeen;

    public string Description => inner.Description;

    /// <summary>The frames recorded so far (a copy).</summary>
    public IReadOnlyList<Http2Frame> Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var stream = await inner.ConnectAsync(cancellationToken).ConfigureAwait(false);
        return new RecordingStream(stream, this);
    }

    public bool IsPermanent(Exception exception) => inner.IsPermanent(exception);

    /// <summary>Waits until a recorded frame matches <paramref name="match"/>; the frames so far when it does.</summary>
    public async Task<IReadOnlyList<Http2Frame>> WaitForFrameAsync(Func<Http2Frame, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var frames = Frames;
            if (frames.Any(match))
            {
                return frames;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no such frame within {timeout}; recorded: {string.Join("; ", frames)}");
            }
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private void Record(bool fromAgent, ReadOnlySpan<byte> bytes)
    {
        lock (_frames)
        {
            var buffer = fromAgent ? _fromAgent : _fromClient;
            buffer.AddRange(bytes);
            if (!fromAgent && !_prefaceSeen)
            {
                if (buffer.Count < Preface.Length)
                {
                    return;
                }
                buffer.RemoveRange(0, Preface.Length);
                _prefaceSeen = true;
            }
            while (buffer.Count >= 9)
            {
                int length = buffer[0] << 16 | buffer[1] << 8 | buffer[2];
                if (buffer.Count < 9 + length)
                {
                    break;
                }
                int streamId = (buffer[5] & 0x7f) << 24 | buffer[6] << 16 | buffer[7] << 8 | buffer[8];
                _frames.Add(new Http2Frame(fromAgent, buffer[3], buffer[4], streamId, buffer.GetRange(9, length).ToArray()));
                buffer.RemoveRange(0, 9 + length);
            }
        }
    }

    private sealed class RecordingStream(Stream inner, Http2RecordingConnector recorder) : Stream
    {
        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read = inner.Read(buffer, offset, count);
            recorder.Record(fromAgent: true, buffer.AsSpan(offset, read));
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            recorder.Record(fromAgent: true, buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            recorder.Record(fromAgent: false, buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            recorder.Record(fromAgent: false, buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
