using System.IO.Pipelines;
using System.Text;
using FluentAssertions;
using KataAgent.Shim.Tasks.Stdio;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>The stdio copies between containerd-style FIFOs (made here with mkfifo, as the client makes them) and a process's streams.</summary>
public sealed class ProcessIoTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Output_to_a_FIFO_is_complete_the_last_bytes_included_and_done_only_once_the_reader_has_it()
    {
        string fifo = MakeFifo("c1-stdout");
        var stdout = new Pipe();
        var stderr = new Pipe();
        var closes = 0;
        await using var io = ProcessIo.Start(stdout.Reader.AsStream(), stderr.Reader.AsStream(), _ => Task.CompletedTask, _ => { closes++; return Task.CompletedTask; },
            StdioTarget.None, new StdioTarget(StdioKind.Fifo, fifo), StdioTarget.None);

        // More than a pipe holds, and the reader comes late: the copy waits for it instead of dropping anything.
        byte[] bulk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i}\n")));
        var producing = Task.Run(async () =>
        {
            await stderr.Writer.WriteAsync("nobody wants stderr\n"u8.ToArray());
            await stderr.Writer.CompleteAsync();
            await stdout.Writer.WriteAsync(bulk);
            await stdout.Writer.WriteAsync("written just before the exit\n"u8.ToArray());
            await stdout.Writer.CompleteAsync();
        });
        await Task.Delay(500);
        io.OutputDone.IsCompleted.Should().BeFalse("the FIFO is full and nobody has read it yet");

        string read = await ReadFifoToEndAsync(fifo);

        read.Should().Be(Encoding.ASCII.GetString(bulk) + "written just before the exit\n");
        await producing.WaitAsync(Patience);
        await io.OutputDone.WaitAsync(Patience);
        closes.Should().Be(0, "output ending does not close stdin");
    }

    [Fact]
    public async Task Stdin_written_before_CloseIO_goes_in_then_stdin_is_closed_even_while_the_client_keeps_its_end()
    {
        string fifo = MakeFifo("c1-stdin");
        var received = new MemoryStream();
        int closes = 0;
        await using var io = ProcessIo.Start(Stream.Null, null, data => { lock (received) { received.Write(data.Span); } return Task.CompletedTask; },
            _ => { Interlocked.Increment(ref closes); return Task.CompletedTask; },
            new StdioTarget(StdioKind.Fifo, fifo), StdioTarget.None, StdioTarget.None);
        await using var client = await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write)).WaitAsync(Patience);
        await client.WriteAsync("first\n"u8.ToArray());
        await client.WriteAsync("second\n"u8.ToArray());
        await client.FlushAsync();

        await io.CloseStdinAsync(CancellationToken.None).WaitAsync(Patience);
        await io.CloseStdinAsync(CancellationToken.None).WaitAsync(Patience);

        lock (received)
        {
            Encoding.ASCII.GetString(received.ToArray()).Should().Be("first\nsecond\n");
        }
        closes.Should().Be(1, "CloseIO closes the process's stdin once");
    }

    [Fact]
    public async Task A_stdin_FIFO_whose_writer_never_came_is_not_an_end_of_input_and_CloseIO_still_closes()
    {
        string fifo = MakeFifo("c1-stdin");
        int closes = 0;
        await using var io = ProcessIo.Start(Stream.Null, null, _ => Task.CompletedTask, _ => { closes++; return Task.CompletedTask; },
            new StdioTarget(StdioKind.Fifo, fifo), StdioTarget.None, StdioTarget.None);
        io.WantsStdin.Should().BeTrue();

        await Task.Delay(300);
        closes.Should().Be(0);
        await io.CloseStdinAsync(CancellationToken.None).WaitAsync(Patience);

        closes.Should().Be(1);
    }

    [Fact]
    public async Task The_client_closing_its_stdin_ends_the_copy_but_only_CloseIO_closes_the_process_s_stdin()
    {
        string fifo = MakeFifo("c1-stdin");
        var received = new MemoryStream();
        int closes = 0;
        await using var io = ProcessIo.Start(Stream.Null, null, data => { lock (received) { received.Write(data.Span); } return Task.CompletedTask; },
            _ => { closes++; return Task.CompletedTask; }, new StdioTarget(StdioKind.Fifo, fifo), StdioTarget.None, StdioTarget.None);
        await using (var client = await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write)).WaitAsync(Patience))
        {
            await client.WriteAsync("all of it\n"u8.ToArray());
        }
        await Task.Delay(500);

        closes.Should().Be(0);
        lock (received)
        {
            Encoding.ASCII.GetString(received.ToArray()).Should().Be("all of it\n");
        }
        await io.CloseStdinAsync(CancellationToken.None).WaitAsync(Patience);
        closes.Should().Be(1);
    }

    [Fact]
    public async Task A_file_target_is_appended_to_and_unrequested_output_is_drained()
    {
        string file = _temp.File("c1.log");
        File.WriteAllText(file, "before\n");
        var stdout = new Pipe();
        var stderr = new Pipe(new PipeOptions(pauseWriterThreshold: 16, resumeWriterThreshold: 8));
        await using var io = ProcessIo.Start(stdout.Reader.AsStream(), stderr.Reader.AsStream(), _ => Task.CompletedTask, _ => Task.CompletedTask,
            StdioTarget.None, StdioTarget.Parse("file://" + file, "stdout"), StdioTarget.None);
        io.WantsStdin.Should().BeFalse();

        await stdout.Writer.WriteAsync("after\n"u8.ToArray());
        await stdout.Writer.CompleteAsync();
        // Far beyond the pipe's pause threshold: it only completes because the copy drains stderr.
        await stderr.Writer.WriteAsync(new byte[1 << 20]).AsTask().WaitAsync(Patience);
        await stderr.Writer.CompleteAsync();
        await io.OutputDone.WaitAsync(Patience);

        File.ReadAllText(file).Should().Be("before\nafter\n");
    }

    [Fact]
    public void A_missing_stdin_FIFO_and_a_stdin_file_are_refused_by_field()
    {
        var missing = () => ProcessIo.Start(Stream.Null, null, _ => Task.CompletedTask, _ => Task.CompletedTask,
            new StdioTarget(StdioKind.Fifo, _temp.File("absent")), StdioTarget.None, StdioTarget.None);
        missing.Should().Throw<KataAgent.Shim.Tasks.TaskException>().WithMessage("stdin: open *absent*");
        var file = () => ProcessIo.Start(Stream.Null, null, _ => Task.CompletedTask, _ => Task.CompletedTask,
            new StdioTarget(StdioKind.File, _temp.File("in")), StdioTarget.None, StdioTarget.None);
        file.Should().Throw<KataAgent.Shim.Tasks.TaskException>().WithMessage("stdin: *");
    }

    private string MakeFifo(string name)
    {
        string path = _temp.File(name);
        HostTools.Run("mkfifo", path);
        return path;
    }

    private static async Task<string> ReadFifoToEndAsync(string fifo)
    {
        await using var reader = await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read)).WaitAsync(Patience);
        using var text = new StreamReader(reader, Encoding.ASCII);
        return await text.ReadToEndAsync().WaitAsync(Patience);
    }
}
