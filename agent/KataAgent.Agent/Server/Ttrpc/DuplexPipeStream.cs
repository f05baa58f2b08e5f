using System.IO.Pipelines;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// A connection as one duplex <see cref="Stream"/>, which is what the ttrpc server serves. Reads take from the
/// connection's input pipe (which holds the bytes the protocol sniffer looked at); writes go to the output pipe, or
/// straight to the transport when the connection has one (<see cref="Transport.StreamConnection"/>), and are flushed at
/// once (ttrpc writes whole frames). Disposing completes neither pipe: the connection owns them.
/// </summary>
internal sealed class DuplexPipeStream(PipeReader input, Stream output) : Stream
{
    private readonly Stream _input = input.AsStream(leaveOpen: true);
    private readonly Stream _output = output;

    /// <summary>Both ends through the connection's pipes.</summary>
    public DuplexPipeStream(IDuplexPipe pipe)
        : this(pipe.Input, pipe.Output.AsStream(leaveOpen: true))
    {
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _input.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _output.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _output.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _output.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => _output.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
