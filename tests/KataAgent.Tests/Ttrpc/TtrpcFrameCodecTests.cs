using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Ttrpc;
using Xunit;

namespace KataAgent.Tests.Ttrpc;

/// <summary>
/// The frame codec and the envelope against real bytes: the captures of containerd-shim-ttrpc.md §1.8
/// (<c>ctr shim state</c> against runc-shim v2 1.6.20), decoded field by field and encoded back byte for byte.
/// </summary>
public class TtrpcFrameCodecTests
{
    // Request for State("sl1") on stream 1: no timeout, no metadata.
    internal static readonly byte[] CapturedRequest = Concat(
        [0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00],
        [0x0a, 0x17], Ascii("containerd.task.v2.Task"),
        [0x12, 0x05], Ascii("State"),
        [0x1a, 0x05, 0x0a, 0x03], Ascii("sl1"));

    // Error response to State("nosuch"): NotFound, no payload field.
    internal static readonly byte[] CapturedErrorResponse = Concat(
        [0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00],
        [0x0a, 0x24, 0x08, 0x05, 0x12, 0x20], Ascii("container not created: not found"));

    [Fact]
    public async Task The_captured_request_decodes_field_by_field()
    {
        var frame = await new TtrpcFrameReader(new MemoryStream(CapturedRequest)).ReadAsync();

        frame.Should().NotBeNull();
        frame!.StreamId.Should().Be(1u);
        frame.Type.Should().Be(TtrpcMessageType.Request);
        frame.Flags.Should().Be(TtrpcFlags.None);
        frame.Payload.Length.Should().Be(0x27);
        var request = Request.Parser.ParseFrom(frame.Payload.Span);
        request.Service.Should().Be("containerd.task.v2.Task");
        request.Method.Should().Be("State");
        request.Payload.ToByteArray().Should().Equal([0x0a, 0x03, .. Ascii("sl1")]);
        request.TimeoutNano.Should().Be(0);
        request.Metadata.Should().BeEmpty();
    }

    [Fact]
    public void The_same_request_encodes_to_the_captured_bytes()
    {
        var request = new Request
        {
            Service = "containerd.task.v2.Task",
            Method = "State",
            Payload = ByteString.CopyFrom([0x0a, 0x03, .. Ascii("sl1")]),
        };

        TtrpcFrameWriter.Encode(new TtrpcFrame(1, TtrpcMessageType.Request, TtrpcFlags.None, request.ToByteArray()))
            .Should().Equal(CapturedRequest);
    }

    [Fact]
    public async Task The_captured_error_response_decodes_and_encodes_back()
    {
        var frame = await new TtrpcFrameReader(new MemoryStream(CapturedErrorResponse)).ReadAsync();

        frame!.StreamId.Should().Be(1u);
        frame.Type.Should().Be(TtrpcMessageType.Response);
        frame.Flags.Should().Be(TtrpcFlags.None);
        var response = Response.Parser.ParseFrom(frame.Payload.Span);
        response.Status.Should().NotBeNull();
        response.Status.Code.Should().Be((int)StatusCode.NotFound);
        response.Status.Message.Should().Be("container not created: not found");
        response.Status.Details.Should().BeEmpty();
        response.Payload.IsEmpty.Should().BeTrue();

        var again = new Response { Status = new Protocols.Ttrpc.Status { Code = 5, Message = "container not created: not found" } };
        TtrpcFrameWriter.Encode(new TtrpcFrame(1, TtrpcMessageType.Response, TtrpcFlags.None, again.ToByteArray()))
            .Should().Equal(CapturedErrorResponse);
    }

    [Fact]
    public async Task The_captured_ok_response_shape_has_no_status_field()
    {
        // §1.8 gives the OK response's header and envelope prefix (12 d5 01) but not the StateResponse bytes, so a
        // 213-byte stand-in takes their place: the envelope must then be byte-identical to the capture's prefix.
        byte[] inner = Enumerable.Range(0, 0xd5).Select(i => (byte)i).ToArray();
        byte[] encoded = TtrpcFrameWriter.Encode(new TtrpcFrame(1, TtrpcMessageType.Response, TtrpcFlags.None,
            new Response { Payload = ByteString.CopyFrom(inner) }.ToByteArray()));

        encoded.AsSpan(0, 13).ToArray().Should().Equal(0x00, 0x00, 0x00, 0xd8, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x12, 0xd5, 0x01);
        var frame = await new TtrpcFrameReader(new MemoryStream(encoded)).ReadAsync();
        var response = Response.Parser.ParseFrom(frame!.Payload.Span);
        response.Status.Should().BeNull();
        response.Payload.ToByteArray().Should().Equal(inner);
    }

    [Fact]
    public async Task Frames_follow_each_other_and_a_clean_end_is_null()
    {
        var reader = new TtrpcFrameReader(new MemoryStream(Concat(CapturedRequest, CapturedErrorResponse)));

        (await reader.ReadAsync())!.Type.Should().Be(TtrpcMessageType.Request);
        (await reader.ReadAsync())!.Type.Should().Be(TtrpcMessageType.Response);
        (await reader.ReadAsync()).Should().BeNull();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    [InlineData(1 << 20)]
    public async Task Frames_come_out_whole_however_the_connection_splits_them(int bytesPerRead)
    {
        // Small frames around ones larger than the reader's buffer and than half of it, in reads of every size.
        var frames = new[] { 10, 0, 40_000, 3, 200_000, 65_536, 32_769, 1 }
            .Select((length, i) => new TtrpcFrame((uint)(2 * i + 1), TtrpcMessageType.Data, TtrpcFlags.None,
                Enumerable.Range(0, length).Select(b => (byte)(b * (i + 3))).ToArray()))
            .ToList();
        var reader = new TtrpcFrameReader(new TrickleStream(Concat(frames.Select(TtrpcFrameWriter.Encode).ToArray()), bytesPerRead));

        foreach (var expected in frames)
        {
            var frame = (await reader.ReadAsync())!;
            frame.StreamId.Should().Be(expected.StreamId);
            frame.Payload.ToArray().Should().Equal(expected.Payload.ToArray());
        }
        (await reader.ReadAsync()).Should().BeNull();
    }

    [Fact]
    public async Task A_header_cut_short_is_a_protocol_error()
    {
        var reader = new TtrpcFrameReader(new MemoryStream(CapturedRequest[..6]));

        var thrown = await reader.Invoking(r => r.ReadAsync().AsTask()).Should().ThrowAsync<TtrpcProtocolException>();
        thrown.Which.Message.Should().Contain("short frame header").And.Contain("6 of 10");
        thrown.Which.StreamId.Should().BeNull();
    }

    [Fact]
    public async Task A_payload_cut_short_is_a_protocol_error()
    {
        var reader = new TtrpcFrameReader(new MemoryStream(CapturedRequest[..20]));

        var thrown = await reader.Invoking(r => r.ReadAsync().AsTask()).Should().ThrowAsync<TtrpcProtocolException>();
        thrown.Which.Message.Should().Contain("short frame payload").And.Contain("10 of 39");
        thrown.Which.StreamId.Should().Be(1u);
    }

    [Fact]
    public async Task A_length_over_4_MiB_is_refused_with_gos_message()
    {
        byte[] header = [0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x00];
        var reader = new TtrpcFrameReader(new MemoryStream(header));

        var thrown = await reader.Invoking(r => r.ReadAsync().AsTask()).Should().ThrowAsync<TtrpcProtocolException>();
        thrown.Which.Message.Should().Be("message length 4194305 exceed maximum message size of 4194304");
        thrown.Which.StreamId.Should().Be(7u);
        thrown.Which.Oversized.Should().BeTrue();
    }

    [Fact]
    public async Task Exactly_4_MiB_is_accepted()
    {
        var payload = new byte[TtrpcFrame.MaxMessageLength];
        byte[] bytes = TtrpcFrameWriter.Encode(new TtrpcFrame(3, TtrpcMessageType.Data, TtrpcFlags.RemoteClosed, payload));

        bytes.AsSpan(0, 10).ToArray().Should().Equal(0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x01);
        var frame = await new TtrpcFrameReader(new MemoryStream(bytes)).ReadAsync();
        frame!.Payload.Length.Should().Be(TtrpcFrame.MaxMessageLength);
        frame.Flags.Should().Be(TtrpcFlags.RemoteClosed);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x04)]
    [InlineData(0xff)]
    public async Task An_unknown_frame_type_is_a_protocol_error(byte type)
    {
        byte[] frame = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, type, 0x00];
        var reader = new TtrpcFrameReader(new MemoryStream(frame));

        var thrown = await reader.Invoking(r => r.ReadAsync().AsTask()).Should().ThrowAsync<TtrpcProtocolException>();
        thrown.Which.Message.Should().Contain($"unknown frame type 0x{type:x2}");
    }

    [Fact]
    public async Task The_writer_refuses_an_oversized_payload_before_writing_anything()
    {
        var sink = new MemoryStream();
        var writer = new TtrpcFrameWriter(sink);

        var thrown = await writer.Invoking(w => w.WriteAsync(
                new TtrpcFrame(1, TtrpcMessageType.Request, TtrpcFlags.None, new byte[TtrpcFrame.MaxMessageLength + 1])))
            .Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        thrown.Which.Status.Detail.Should().Be("message length 4194305 exceed maximum message size of 4194304");
        sink.Length.Should().Be(0);
    }

    [Fact]
    public async Task Concurrent_writers_never_interleave_frames()
    {
        var sink = new MemoryStream();
        var writer = new TtrpcFrameWriter(sink);

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() => writer.WriteAsync(
            new TtrpcFrame((uint)(2 * i + 1), TtrpcMessageType.Data, TtrpcFlags.None, Enumerable.Repeat((byte)i, 1000 + i).ToArray())))));

        sink.Position = 0;
        var reader = new TtrpcFrameReader(sink);
        var seen = new List<uint>();
        while (await reader.ReadAsync() is { } frame)
        {
            int i = (int)(frame.StreamId - 1) / 2;
            frame.Payload.Length.Should().Be(1000 + i);
            frame.Payload.ToArray().Should().OnlyContain(b => b == (byte)i);
            seen.Add(frame.StreamId);
        }
        seen.Should().HaveCount(64).And.OnlyHaveUniqueItems();
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A stream that gives at most <c>bytesPerRead</c> bytes per read, as a socket may.</summary>
    private sealed class TrickleStream(byte[] data, int bytesPerRead) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, bytesPerRead));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, bytesPerRead)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, bytesPerRead)], cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            base.ReadAsync(buffer, offset, Math.Min(count, bytesPerRead), cancellationToken);
    }
}
