using System.Buffers;
using System.IO.Pipelines;
using FluentAssertions;
using KataAgent.Agent.Server.Protocols;
using Xunit;

namespace KataAgent.Tests.Agent;

/// <summary>How the agent tells gRPC from ttrpc by a connection's first bytes, and that it consumes none of them.</summary>
public class ProtocolSnifferTests
{
    public static TheoryData<byte[], string> FirstReads => new()
    {
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04"u8.ToArray(), "Grpc" },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), "Grpc" },
        { "PRI * HT"u8.ToArray(), "Grpc" },
        { "P"u8.ToArray(), "Grpc" },
        { [0, 0, 0, 0x27, 0, 0, 0, 1, 1, 0], "Ttrpc" },
        { [0], "Ttrpc" },
        { "PRI * HTTP/1.1\r\n"u8.ToArray(), "Ttrpc" },
        { "GET / HTTP/1.1\r\n"u8.ToArray(), "Ttrpc" },
        { "PUT"u8.ToArray(), "Ttrpc" },
    };

    [Theory]
    [MemberData(nameof(FirstReads))]
    public async Task The_first_read_decides_and_its_bytes_stay_for_the_protocol(byte[] first, string expected)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(first);

        (await ProtocolSniffer.DetectAsync(pipe.Reader, CancellationToken.None)).ToString().Should().Be(expected);

        // Nothing consumed or examined: the protocol's reader gets the same bytes at once, with nothing more sent.
        var read = pipe.Reader.ReadAsync().AsTask();
        read.IsCompleted.Should().BeTrue("the bytes were left unexamined, so a read does not wait for more");
        (await read).Buffer.ToArray().Should().Equal(first);
    }

    [Fact]
    public async Task A_connection_that_ends_before_its_first_byte_has_no_protocol()
    {
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();
        (await ProtocolSniffer.DetectAsync(pipe.Reader, CancellationToken.None)).Should().BeNull();
    }

    [Fact]
    public async Task It_waits_for_the_first_byte()
    {
        var pipe = new Pipe();
        var detect = ProtocolSniffer.DetectAsync(pipe.Reader, CancellationToken.None).AsTask();
        await Task.Delay(50);
        detect.IsCompleted.Should().BeFalse();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0, 0 });
        (await detect.WaitAsync(TimeSpan.FromSeconds(5))).Should().Be(WireProtocol.Ttrpc);
    }
}
