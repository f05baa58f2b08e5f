using System.IO.Pipelines;
using System.Text;
using FluentAssertions;
using KataAgent.Shim.Tasks;
using KataAgent.Shim.Tasks.Stdio;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>
/// <c>binary://</c> logging as containerd's runc shim does it (pkg/process/io.go NewBinaryIO): a real logging binary (a
/// shell script) started with the process's output pipes as fd 3 and 4 and the wait pipe as fd 5.
/// </summary>
public sealed class BinaryLoggerTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A logger that records its arguments and environment, becomes ready only after a marker file is there (so the
    /// test sees the start wait), copies fd 3 and fd 4 to files, and runs, as a logging daemon does, until SIGTERM
    /// asks it to end; then it lets its copies finish and exits.
    /// </summary>
    private string WriteLogger()
    {
        string script = _temp.File("logger.sh");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            dir="$2"
            printf '%s\n' "$@" > "$dir/args"
            env | sort > "$dir/env"
            while [ ! -e "$dir/go" ]; do sleep 0.05; done
            trap 'echo term > "$dir/term"' TERM
            cat <&3 > "$dir/stdout" 5>&- &
            cat <&4 > "$dir/stderr" 5>&- &
            exec 5>&-
            while [ ! -e "$dir/term" ]; do sleep 0.05; done
            wait
            echo done > "$dir/done"

            """);
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        return script;
    }

    [Fact]
    public async Task The_logger_gets_both_streams_its_query_arguments_and_the_ids_and_the_start_waits_until_it_is_ready()
    {
        string script = WriteLogger();
        string dir = _temp.CreateDirectory("out");
        var target = StdioTarget.Parse($"binary://{script}?dir={Uri.EscapeDataString(dir)}&flag&x=a+b", "stdout");
        target.Kind.Should().Be(StdioKind.Binary);
        target.Arguments.Should().Equal("dir", dir, "flag", "", "x", "a b");

        var starting = BinaryLogger.StartAsync(target, "c1", "ns1", CancellationToken.None);
        await WaitForFileAsync(Path.Combine(dir, "env"));
        starting.IsCompleted.Should().BeFalse("the logger has not closed its fd 5 yet");
        File.WriteAllText(Path.Combine(dir, "go"), "");
        var logger = await starting.WaitAsync(Patience);

        var stdout = new Pipe();
        var stderr = new Pipe();
        var io = ProcessIo.Start(stdout.Reader.AsStream(), stderr.Reader.AsStream(), _ => Task.CompletedTask, _ => Task.CompletedTask,
            StdioTarget.None, target, target, logger);
        byte[] bulk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i}\n")));
        await stdout.Writer.WriteAsync(bulk);
        await stdout.Writer.CompleteAsync();
        await stderr.Writer.WriteAsync("to stderr\n"u8.ToArray());
        await stderr.Writer.CompleteAsync();
        await io.OutputDone.WaitAsync(Patience);
        await io.DisposeAsync().AsTask().WaitAsync(Patience);

        File.ReadAllBytes(Path.Combine(dir, "stdout")).Should().Equal(bulk);
        File.ReadAllText(Path.Combine(dir, "stderr")).Should().Be("to stderr\n");
        File.ReadAllText(Path.Combine(dir, "term")).Should().Be("term\n", "the logger is asked to end with SIGTERM, as runc's shim asks it");
        File.ReadAllText(Path.Combine(dir, "done")).Should().Be("done\n", "and it was let finish: the process is reaped only after it exited");
        File.ReadAllText(Path.Combine(dir, "args")).Should().Be($"dir\n{dir}\nflag\n\nx\na b\n");
        File.ReadAllLines(Path.Combine(dir, "env")).Should().Contain(["CONTAINER_ID=c1", "CONTAINER_NAMESPACE=ns1"])
            .And.NotContain(line => line.StartsWith("PATH=", StringComparison.Ordinal), "the logger's environment is only containerd's two variables");
    }

    [Fact]
    public async Task A_missing_binary_is_refused_naming_it_and_a_binary_stderr_without_a_binary_stdout_is_refused()
    {
        var missing = () => BinaryLogger.StartAsync(StdioTarget.Parse("binary:///nonexistent/logger", "stdout"), "c1", "ns1", CancellationToken.None);
        (await missing.Should().ThrowAsync<TaskException>()).Which.Message.Should().Contain("/nonexistent/logger");

        var mixed = () => ProcessIo.Start(Stream.Null, Stream.Null, _ => Task.CompletedTask, _ => Task.CompletedTask,
            StdioTarget.None, StdioTarget.None, StdioTarget.Parse("binary:///bin/true", "stderr"));
        mixed.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument && e.Message.StartsWith("stderr:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_logger_that_exits_at_once_is_ready_and_the_output_it_does_not_read_never_holds_the_process_up()
    {
        var logger = await BinaryLogger.StartAsync(StdioTarget.Parse("binary:///bin/true", "stdout"), "c1", "ns1", CancellationToken.None).WaitAsync(Patience);
        var stdout = new Pipe();
        var io = ProcessIo.Start(stdout.Reader.AsStream(), null, _ => Task.CompletedTask, _ => Task.CompletedTask,
            StdioTarget.None, StdioTarget.Parse("binary:///bin/true", "stdout"), StdioTarget.None, logger);
        await stdout.Writer.WriteAsync(new byte[1 << 20]);
        await stdout.Writer.CompleteAsync();

        await io.OutputDone.WaitAsync(Patience);
        await io.DisposeAsync().AsTask().WaitAsync(Patience);
    }

    private static async Task WaitForFileAsync(string path)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!File.Exists(path))
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"waiting for {path}");
            await Task.Delay(50);
        }
    }
}
