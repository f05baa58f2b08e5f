using System.Text;
using FluentAssertions;
using KataAgent.Agent.Containers.Processes;
using Xunit;

namespace KataAgent.Tests.Agent.Output;

/// <summary>
/// The output buffer keeps bytes in segments the pump writes into and readers get slices of: a slice stays what it
/// was while more is written, order holds across segments, and a full buffer gives the pump no room until a reader
/// takes something.
/// </summary>
public sealed class OutputBufferSegmentTests
{
    [Fact]
    public async Task A_slice_handed_out_stays_the_same_while_the_pump_writes_on()
    {
        var buffer = new OutputBuffer();
        await buffer.WriteAsync("first"u8.ToArray(), CancellationToken.None);

        ReadOnlyMemory<byte> slice = await buffer.ReadChunkAsync(100, -1, CancellationToken.None);
        await buffer.WriteAsync(Enumerable.Repeat((byte)'x', 200_000).ToArray(), CancellationToken.None);

        Encoding.ASCII.GetString(slice.Span).Should().Be("first");
    }

    [Fact]
    public async Task Bytes_written_across_many_segments_come_out_whole_and_in_order()
    {
        var buffer = new OutputBuffer(capacity: 4 * 1024 * 1024);
        byte[] written = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
        // Odd-sized writes, as reads of a pipe come, straddle every segment boundary.
        for (int offset = 0; offset < written.Length; offset += 9_999)
        {
            await buffer.WriteAsync(written.AsMemory(offset, Math.Min(9_999, written.Length - offset)), CancellationToken.None);
        }
        buffer.Complete();

        var read = new List<byte>();
        while (true)
        {
            var chunk = await buffer.ReadChunkAsync(OutputBuffer.MaxSegmentSize, -1, CancellationToken.None);
            if (chunk.IsEmpty)
            {
                break;
            }
            chunk.Length.Should().BeLessThanOrEqualTo(OutputBuffer.MaxSegmentSize);
            read.AddRange(chunk.ToArray());
        }

        read.Should().Equal(written);
        buffer.Taken.Should().Be(written.Length);
    }

    [Fact]
    public async Task ReadAsync_joins_what_is_buffered_across_segments_up_to_its_limit()
    {
        var buffer = new OutputBuffer();
        byte[] written = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
        await buffer.WriteAsync(written, CancellationToken.None);

        byte[] first = await buffer.ReadAsync(70_000, CancellationToken.None);
        byte[] rest = await buffer.ReadAsync(1024 * 1024, CancellationToken.None);

        first.Should().Equal(written[..70_000]);
        rest.Should().Equal(written[70_000..]);
    }

    [Fact]
    public async Task A_full_buffer_gives_no_room_until_a_reader_takes_something()
    {
        var buffer = new OutputBuffer(capacity: 8 * 1024);
        await buffer.WriteAsync(new byte[8 * 1024], CancellationToken.None);

        buffer.GetWriteMemory().IsEmpty.Should().BeTrue();
        Task space = buffer.WhenSpaceAsync();
        space.IsCompleted.Should().BeFalse();

        (await buffer.ReadChunkAsync(1024, -1, CancellationToken.None)).Length.Should().Be(1024);

        await space.WaitAsync(TimeSpan.FromSeconds(5));
        buffer.GetWriteMemory().IsEmpty.Should().BeFalse();
    }

    [Fact]
    public async Task Resume_replays_slices_from_an_earlier_segment_before_the_unread_part_of_the_current_one()
    {
        var buffer = new OutputBuffer(capacity: 4 * 1024 * 1024);
        byte[] written = Enumerable.Range(0, 20_000).Select(i => (byte)(i % 251)).ToArray();
        await buffer.WriteAsync(written, CancellationToken.None);
        // Taken in pieces that end inside segments; then more arrives behind them.
        for (int i = 0; i < 5; i++)
        {
            await buffer.ReadChunkAsync(3_000, -1, CancellationToken.None);
        }
        byte[] more = Enumerable.Range(0, 5_000).Select(i => (byte)(i % 13)).ToArray();
        await buffer.WriteAsync(more, CancellationToken.None);

        int generation = buffer.Resume(4_500);
        byte[] replay = await buffer.ReadAsync(1024 * 1024, generation, CancellationToken.None);

        replay.Should().Equal(written[4_500..].Concat(more));
    }

    [Fact]
    public void Advance_past_the_memory_given_is_refused()
    {
        var buffer = new OutputBuffer();
        int room = buffer.GetWriteMemory().Length;

        buffer.Invoking(b => b.Advance(room + 1)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("count");
    }
}
