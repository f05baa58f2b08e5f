using FluentAssertions;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using Xunit;

namespace KataAgent.Tests.Linux;

/// <summary>
/// The stream the agent's vsock and serial connections run on: what has arrived is read, and what the fd takes is
/// written, at once on the caller's thread; only an empty or full fd waits, and a wait still ends on dispose.
/// </summary>
public sealed class FileDescriptorStreamTests
{
    [Fact]
    public async Task Data_that_has_arrived_is_read_without_waiting()
    {
        var (read, write) = Libc.Pipe();
        using var reader = new FileDescriptorStream(read, ownsFd: true);
        using var writer = new FileDescriptorStream(write, ownsFd: true);
        await writer.WriteAsync("ready"u8.ToArray());

        var buffer = new byte[16];
        var pending = reader.ReadAsync(buffer);

        pending.IsCompletedSuccessfully.Should().BeTrue("the bytes were already in the pipe");
        (await pending).Should().Be(5);
    }

    [Fact]
    public async Task A_write_the_fd_has_room_for_completes_at_once_and_a_larger_one_once_the_reader_drains()
    {
        var (read, write) = Libc.Pipe();
        using var reader = new FileDescriptorStream(read, ownsFd: true);
        using var writer = new FileDescriptorStream(write, ownsFd: true);

        writer.WriteAsync(new byte[1024]).IsCompletedSuccessfully.Should().BeTrue("a pipe holds 64 KiB");
        byte[] large = Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i * 13)).ToArray();
        var pending = writer.WriteAsync(large).AsTask();
        pending.IsCompleted.Should().BeFalse("1 MiB does not fit in the pipe");

        var received = new byte[1024 + large.Length];
        int total = 0;
        while (total < received.Length)
        {
            int n = await reader.ReadAsync(received.AsMemory(total));
            n.Should().BePositive();
            total += n;
        }
        await pending.WaitAsync(TimeSpan.FromSeconds(10));
        received.AsSpan(1024).ToArray().Should().Equal(large);
    }

    [Fact]
    public async Task A_read_waiting_for_data_gets_it_when_it_comes_and_end_of_stream_after_the_writer_closes()
    {
        var (read, write) = Libc.Pipe();
        using var reader = new FileDescriptorStream(read, ownsFd: true);
        var writer = new FileDescriptorStream(write, ownsFd: true);
        var buffer = new byte[16];

        var pending = reader.ReadAsync(buffer).AsTask();
        pending.IsCompleted.Should().BeFalse();
        await writer.WriteAsync("late"u8.ToArray());
        (await pending.WaitAsync(TimeSpan.FromSeconds(10))).Should().Be(4);

        writer.Dispose();
        (await reader.ReadAsync(buffer)).Should().Be(0);
    }

    [Fact]
    public async Task A_waiting_read_ends_when_the_stream_is_disposed_and_later_calls_fail_in_their_task()
    {
        var (read, write) = Libc.Pipe();
        var reader = new FileDescriptorStream(read, ownsFd: true);
        var pending = reader.ReadAsync(new byte[16]).AsTask();

        reader.Dispose();

        // Woken in poll it reads end of stream; not yet on its pool thread when the dispose came, it finds the stream
        // disposed. Either way it ends now.
        try
        {
            (await pending.WaitAsync(TimeSpan.FromSeconds(10))).Should().Be(0);
        }
        catch (ObjectDisposedException)
        {
        }
        var after = reader.ReadAsync(new byte[16]);
        await after.AsTask().Invoking(t => t).Should().ThrowAsync<ObjectDisposedException>();
        Libc.Close(write);
    }
}
