using System.Diagnostics;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// The hidden <c>kactl vhost-user-vsock</c> verb, the backend process of a detached VM, without a VM: it listens on
/// both sockets, ends once the process its qemu pid file names (and whose command line names its socket) has
/// gone, and stops cleanly on SIGTERM; both leave no socket behind.
/// </summary>
public sealed partial class KactlVsockBackendTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Socket => _temp.File("vhost-user-vsock.sock");

    private string Hybrid => _temp.File("vsock.sock");

    private string PidFile => _temp.File("qemu.pid");

    private CommandTask<BufferedCommandResult> StartBackend(CancellationToken kill) =>
        Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(["vhost-user-vsock", "--socket", Socket, "--hybrid-socket", Hybrid, "--cid", "3", "--qemu-pid-file", PidFile])
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(kill);

    private async Task WaitForSocketsAsync(Task running)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!(File.Exists(Socket) && File.Exists(Hybrid)))
        {
            running.IsCompleted.Should().BeFalse("the backend runs until its qemu has gone");
            DateTime.UtcNow.Should().BeBefore(deadline, "the backend creates both sockets at once");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Ends_once_its_qemu_has_gone_and_removes_its_sockets()
    {
        using var kill = new CancellationTokenSource(Limit * 2);
        var backend = StartBackend(kill.Token);
        await WaitForSocketsAsync(backend.Task);
        // A stand-in for qemu: its command line names the vhost-user socket, as qemu's -chardev does.
        using var qemu = Process.Start(new ProcessStartInfo("sh", ["-c", "sleep 1000; :", $"socket,id=vsock0chr,path={Socket}"]))!;
        await File.WriteAllTextAsync(PidFile, $"{qemu.Id}\n");
        await Task.Delay(TimeSpan.FromSeconds(1));
        backend.Task.IsCompleted.Should().BeFalse("its qemu still runs");

        qemu.Kill(entireProcessTree: true);
        var result = await backend.Task.WaitAsync(Limit);

        result.ExitCode.Should().Be(0, result.StandardError);
        result.StandardError.Should().Contain($"serving qemu pid {qemu.Id}").And.Contain("has exited; stopping");
        File.Exists(Socket).Should().BeFalse();
        File.Exists(Hybrid).Should().BeFalse();
    }

    [Fact]
    public async Task A_live_pid_that_is_not_its_qemu_does_not_keep_it_and_SIGTERM_stops_it_cleanly()
    {
        using var kill = new CancellationTokenSource(Limit * 2);
        var backend = StartBackend(kill.Token);
        await WaitForSocketsAsync(backend.Task);
        // Our own pid is alive but names no socket of the backend's: not its qemu (a recycled pid).
        await File.WriteAllTextAsync(PidFile, $"{Environment.ProcessId}\n");
        await Task.Delay(TimeSpan.FromSeconds(1));
        backend.Task.IsCompleted.Should().BeFalse();

        Kill(backend.ProcessId, 15).Should().Be(0);
        var result = await backend.Task.WaitAsync(Limit);

        result.ExitCode.Should().Be(0, result.StandardError);
        result.StandardError.Should().Contain("terminated before its qemu came; stopping").And.NotContain("serving qemu");
        File.Exists(Socket).Should().BeFalse();
        File.Exists(Hybrid).Should().BeFalse();
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
