using System.Text;
using FluentAssertions;
using KataAgent.Agent.Containers.Processes;
using Xunit;

namespace KataAgent.Tests.Agent.Output;

/// <summary>
/// The agent's output buffer resumes a reader at the offset the host really received (Attach's resume): what was
/// handed out after it comes again, in order, once; what is no longer kept, or was never sent, is refused.
/// </summary>
public sealed class OutputBufferResumeTests
{
    private static async Task<string> ReadAsync(OutputBuffer buffer, int max, int generation = -1) =>
        Encoding.ASCII.GetString(await buffer.ReadAsync(max, generation, CancellationToken.None));

    [Fact]
    public async Task Resume_gives_again_what_was_sent_after_the_offset_then_the_rest_in_order()
    {
        var buffer = new OutputBuffer();
        await buffer.WriteAsync("1\n2\n3\n"u8.ToArray(), CancellationToken.None);
        (await ReadAsync(buffer, 4)).Should().Be("1\n2\n");
        (await ReadAsync(buffer, 1)).Should().Be("3");
        await buffer.WriteAsync("4\n"u8.ToArray(), CancellationToken.None);
        buffer.Taken.Should().Be(5);

        int generation = buffer.Resume(2);

        buffer.Taken.Should().Be(2);
        (await ReadAsync(buffer, 100, generation)).Should().Be("2\n3\n4\n", "the host had received \"1\\n\" only");
    }

    [Fact]
    public async Task Resume_at_what_was_taken_changes_nothing_but_the_reader()
    {
        var buffer = new OutputBuffer();
        await buffer.WriteAsync("abc"u8.ToArray(), CancellationToken.None);
        (await ReadAsync(buffer, 2)).Should().Be("ab");

        int generation = buffer.Resume(2);

        (await ReadAsync(buffer, 100, generation)).Should().Be("c");
    }

    [Fact]
    public async Task An_earlier_reader_stops_once_another_resumed_and_takes_nothing()
    {
        var buffer = new OutputBuffer();
        int first = buffer.Resume(0);
        var waiting = buffer.ReadAsync(100, first, CancellationToken.None);

        int second = buffer.Resume(0);
        await buffer.WriteAsync("x"u8.ToArray(), CancellationToken.None);

        await waiting.Invoking(async w => await w).Should().ThrowAsync<OperationCanceledException>();
        (await ReadAsync(buffer, 100, second)).Should().Be("x");
    }

    [Fact]
    public async Task An_offset_past_what_was_sent_or_before_what_is_kept_is_refused()
    {
        var buffer = new OutputBuffer(capacity: 1024, retained: 4);
        await buffer.WriteAsync("0123456789"u8.ToArray(), CancellationToken.None);
        for (int i = 0; i < 10; i += 2)
        {
            await ReadAsync(buffer, 2);
        }

        buffer.Invoking(b => b.Resume(11)).Should().Throw<ArgumentOutOfRangeException>();
        buffer.Invoking(b => b.Resume(2)).Should().Throw<InvalidOperationException>("only the last bytes sent are kept");
        int generation = buffer.Resume(6);
        (await ReadAsync(buffer, 100, generation)).Should().Be("6789");
    }

    [Fact]
    public async Task A_refused_stderr_offset_leaves_stdout_and_its_reader_as_they_were()
    {
        var stdout = new OutputBuffer();
        var stderr = new OutputBuffer(capacity: 1024, retained: 2);
        await stdout.WriteAsync("abcdef"u8.ToArray(), CancellationToken.None);
        await stderr.WriteAsync("0123456789"u8.ToArray(), CancellationToken.None);
        int reader = stdout.Resume(0);
        (await ReadAsync(stdout, 4, reader)).Should().Be("abcd");
        for (int i = 0; i < 10; i += 2)
        {
            await ReadAsync(stderr, 2);
        }

        var lost = FluentActions.Invoking(() => OutputBuffer.Resume(stdout, 1, stderr, 3)).Should().Throw<OutputLostException>().Which;
        lost.ParamName.Should().Be("stderrOffset");
        var past = FluentActions.Invoking(() => OutputBuffer.Resume(stdout, 1, stderr, 11)).Should().Throw<ArgumentOutOfRangeException>().Which;
        past.ParamName.Should().Be("stderrOffset");
        FluentActions.Invoking(() => OutputBuffer.Resume(stdout, 7, stderr, 10)).Should().Throw<ArgumentOutOfRangeException>()
            .Which.ParamName.Should().Be("stdoutOffset");

        stdout.Taken.Should().Be(4, "neither refused call rewound stdout");
        (await ReadAsync(stdout, 100, reader)).Should().Be("ef", "the reader attached before the refused calls still reads");
    }

    [Fact]
    public async Task Both_outputs_rewind_together_when_both_offsets_are_good()
    {
        var stdout = new OutputBuffer();
        var stderr = new OutputBuffer();
        await stdout.WriteAsync("out"u8.ToArray(), CancellationToken.None);
        await stderr.WriteAsync("err"u8.ToArray(), CancellationToken.None);
        (await ReadAsync(stdout, 100)).Should().Be("out");
        (await ReadAsync(stderr, 100)).Should().Be("err");

        var (stdoutReader, stderrReader) = OutputBuffer.Resume(stdout, 1, stderr, 2);

        (await ReadAsync(stdout, 100, stdoutReader)).Should().Be("ut");
        (await ReadAsync(stderr, 100, stderrReader)).Should().Be("r");
    }
}
