using CliWrap;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// A process the host library (<c>QemuVm.IsRunningIn</c>) takes for a sandbox's qemu: argv[0] is
/// qemu-system-x86_64 and its command line names the sandbox's QMP socket path, as a real qemu's does.
/// It is bash's <c>exec -a</c> of <c>tail -f</c> on a plain file at that path, which runs until killed;
/// <see cref="FakeSandbox"/> records its pid in qemu.pid, as qemu's -pidfile does.
/// </summary>
public sealed class FakeQemuProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill = new();
    private readonly CommandTask<CommandResult> _task;
    private readonly System.Text.StringBuilder _stdout = new();
    private readonly System.Text.StringBuilder _stderr = new();
    private bool _disposed;

    public FakeQemuProcess(string stateDirectory)
    {
        string file = Path.Combine(stateDirectory, "qmp.sock");
        File.WriteAllText(file, "");
        _task = Cli.Wrap("bash")
            .WithArguments(["-c", "exec -a qemu-system-x86_64 tail -f \"$0\"", file])
            // Read, not dropped: tail -f ends as soon as its stdout is a broken pipe (which PipeTarget.Null leaves).
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(_stdout))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(_stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(_kill.Token);
    }

    public int ProcessId => _task.ProcessId;

    /// <summary>Completes when the process has ended (killed by kactl rm, for example).</summary>
    public Task Exited => _task.Task;

    /// <summary>Waits until /proc shows the process as exec'd (a fake qemu), so kactl's probe sees it.</summary>
    public async Task WaitUntilRunningAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string cmdline = "";
        while (!cmdline.StartsWith("qemu-system-x86_64\0", StringComparison.Ordinal))
        {
            if (_task.Task.IsCompleted || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the fake qemu (pid {ProcessId}) did not come up: exited {(_task.Task.IsCompletedSuccessfully ? _task.Task.Result.ExitCode.ToString() : "no")}, cmdline '{cmdline.Replace('\0', ' ')}', stderr: {_stderr}");
            }
            await Task.Delay(20);
            try
            {
                cmdline = File.ReadAllText($"/proc/{ProcessId}/cmdline");
            }
            catch (IOException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_task.Task.IsCompleted && _disposed)
        {
            return;
        }
        _disposed = true;
        _kill.Cancel();
        try
        {
            await _task;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
