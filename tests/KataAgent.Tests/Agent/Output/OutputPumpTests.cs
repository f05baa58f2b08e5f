using System.Text;
using FluentAssertions;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.IO;
using KataAgent.Linux.Interop;
using Xunit;

namespace KataAgent.Tests.Agent.Output;

/// <summary>
/// The agent's output pump: one epoll thread reads every output pipe into its buffer, ends each at end of file,
/// leaves a full buffer's pipe unread (the writer blocks, nothing is dropped) and stops an output whose pipe never ends.
/// </summary>
public sealed class OutputPumpTests : IDisposable
{
    private readonly OutputPump _pump = new();

    public void Dispose() => _pump.Dispose();

    [Fact]
    public async Task Reads_a_pipe_until_its_writer_closes_it_then_completes_the_buffer()
    {
        var (read, write) = Libc.Pipe();
        var buffer = new OutputBuffer();
        var registration = _pump.Start(new SafeFileDescriptor(read), buffer);

        Write(write, "hello "u8);
        Write(write, "world"u8);
        Libc.Close(write);

        await registration.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Encoding.ASCII.GetString(await buffer.ReadAsync(100, CancellationToken.None)).Should().Be("hello world");
        (await buffer.ReadAsync(100, CancellationToken.None)).Should().BeEmpty("end of stream follows the data");
        _pump.Count.Should().Be(0);
    }

    [Fact]
    public async Task A_full_buffer_holds_the_writer_back_and_loses_nothing()
    {
        var (read, write) = Libc.Pipe();
        var buffer = new OutputBuffer(capacity: 64 * 1024);
        _pump.Start(new SafeFileDescriptor(read), buffer);
        byte[] written = Enumerable.Range(0, 2 * 1024 * 1024).Select(i => (byte)(i * 31)).ToArray();

        var writer = Task.Run(() =>
        {
            Write(write, written);
            Libc.Close(write);
        });
        // The writer cannot finish while nobody reads: 2 MiB is far more than the buffer and the pipe hold.
        (await Task.WhenAny(writer, Task.Delay(500))).Should().NotBe(writer);

        // A stalled pump fails the test instead of hanging it.
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<byte>();
        while ((await buffer.ReadChunkAsync(OutputBuffer.MaxSegmentSize, -1, patience.Token)) is { IsEmpty: false } chunk)
        {
            received.AddRange(chunk.ToArray());
        }
        await writer.WaitAsync(patience.Token);
        received.Should().Equal(written);
    }

    [Fact]
    public async Task Many_outputs_are_read_side_by_side()
    {
        var outputs = Enumerable.Range(0, 20).Select(_ =>
        {
            var (read, write) = Libc.Pipe();
            var buffer = new OutputBuffer();
            return (Write: write, Buffer: buffer, Registration: _pump.Start(new SafeFileDescriptor(read), buffer));
        }).ToList();

        for (int i = 0; i < outputs.Count; i++)
        {
            Write(outputs[i].Write, Encoding.ASCII.GetBytes($"output {i}"));
            Libc.Close(outputs[i].Write);
        }

        for (int i = 0; i < outputs.Count; i++)
        {
            await outputs[i].Registration.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            Encoding.ASCII.GetString(await outputs[i].Buffer.ReadAsync(100, CancellationToken.None)).Should().Be($"output {i}");
        }
    }

    [Fact]
    public async Task Stop_ends_an_output_whose_pipe_a_descendant_still_holds_and_keeps_what_was_read()
    {
        var (read, write) = Libc.Pipe();
        var buffer = new OutputBuffer();
        var registration = _pump.Start(new SafeFileDescriptor(read), buffer);
        Write(write, "before"u8);
        while (buffer.Buffered < 6)
        {
            await Task.Delay(10);
        }

        registration.Stop();

        await registration.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Encoding.ASCII.GetString(await buffer.ReadAsync(100, CancellationToken.None)).Should().Be("before");
        (await buffer.ReadAsync(100, CancellationToken.None)).Should().BeEmpty();
        // The pump closed its end: the writer now sees a broken pipe.
        WriteError(write).Should().Be(Errno.EPIPE);
        Libc.Close(write);
    }

    [Fact]
    public async Task Disposing_the_pump_stops_every_output_and_refuses_new_ones()
    {
        var pump = new OutputPump();
        var (read, write) = Libc.Pipe();
        var buffer = new OutputBuffer();
        var registration = pump.Start(new SafeFileDescriptor(read), buffer);

        pump.Dispose();

        await registration.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        (await buffer.ReadAsync(100, CancellationToken.None)).Should().BeEmpty();
        var (otherRead, otherWrite) = Libc.Pipe();
        var refused = new SafeFileDescriptor(otherRead);
        pump.Invoking(p => p.Start(refused, new OutputBuffer())).Should().Throw<ObjectDisposedException>();
        refused.IsClosed.Should().BeTrue("the pump owns the fd it is given, also when it refuses it");
        Libc.Close(otherWrite);
        Libc.Close(write);
    }

    [Fact]
    public async Task A_pump_whose_epoll_fd_is_lost_ends_its_outputs_and_refuses_new_ones()
    {
        var pump = new OutputPump();
        var (read, write) = Libc.Pipe();
        var buffer = new OutputBuffer();
        var registration = pump.Start(new SafeFileDescriptor(read), buffer);
        // What a double close elsewhere would leave: the number no longer an epoll fd (here /dev/null's, so that the
        // pump's own close of it later closes nothing of anyone else's).
        int devNull = Libc.Check(Libc.Open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open");
        Libc.Check(Libc.Dup2(devNull, pump.Fd), "dup2");
        Libc.Check(Libc.Fcntl(pump.Fd, Libc.F_SETFD, Libc.FD_CLOEXEC), "fcntl(F_SETFD)");
        Libc.Close(devNull);

        Write(write, "x"u8);

        await registration.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Encoding.ASCII.GetString(await buffer.ReadAsync(100, CancellationToken.None)).Should().Be("x", "what was read stays readable");
        (await buffer.ReadAsync(100, CancellationToken.None)).Should().BeEmpty("the reader sees the end rather than waiting for ever");
        var (otherRead, otherWrite) = Libc.Pipe();
        pump.Invoking(p => p.Start(new SafeFileDescriptor(otherRead), new OutputBuffer())).Should().Throw<ObjectDisposedException>()
            .WithMessage("*output pump stopped: epoll_wait*");
        Libc.Close(otherWrite);
        Libc.Close(write);
        pump.Dispose();
    }

    private static unsafe void Write(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            nint n;
            fixed (byte* p = data)
            {
                n = Libc.Write(fd, p, (nuint)data.Length);
            }
            if (n < 0)
            {
                throw LinuxException.FromLastError("write");
            }
            data = data[(int)n..];
        }
    }

    private static unsafe int WriteError(int fd)
    {
        byte one = 1;
        return Libc.Write(fd, &one, 1) < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
    }
}
