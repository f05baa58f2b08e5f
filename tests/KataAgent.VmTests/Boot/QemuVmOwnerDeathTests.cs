using CliWrap;
using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// A VM that is not detached never outlives the process that started it, however that process ends: qemu runs
/// under a parent-death signal. The helper KataAgent.VmStarter owns the VM and is SIGKILLed, so no dispose runs.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuVmOwnerDeathTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Qemu_dies_with_its_SIGKILLed_owner_and_the_left_over_state_directory_is_deleted_as_stale()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vm");
        var reportedPid = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cleanup = new CancellationTokenSource();
        var starter = Cli.Wrap(RepoPaths.DotnetHost)
            .WithArguments([
                RepoPaths.VmStarterAssembly,
                RepoPaths.Kernel,
                RepoPaths.Initrd,
                state,
            ])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line =>
            {
                if (line.StartsWith("qemu-pid ", StringComparison.Ordinal))
                {
                    reportedPid.TrySetResult(int.Parse(line["qemu-pid ".Length..]));
                }
            }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(output.WriteLine))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cleanup.Token);
        int qemuPid = 0;
        try
        {
            var first = await Task.WhenAny(reportedPid.Task, starter.Task).WaitAsync(Limit);
            first.Should().BeSameAs(reportedPid.Task, "the starter prints qemu's pid once the agent answers, and does not exit");
            qemuPid = await reportedPid.Task;
            ProcessState.ParentOf(qemuPid).Should().Be(starter.ProcessId, "setpriv execs qemu as the starter's child");
            QemuVm.DeleteStaleState(state).Should().BeFalse("the VM of that state directory still runs");

            // The starter alone, with SIGKILL: nothing of it runs any more, no dispose and no finally.
            using (var owner = System.Diagnostics.Process.GetProcessById(starter.ProcessId))
            {
                owner.Kill(entireProcessTree: false);
            }
            (await starter.Task.WaitAsync(Limit)).ExitCode.Should().Be(128 + 9);

            (await ProcessState.ExitsWithinAsync(qemuPid, Limit)).Should().BeTrue("the parent-death signal kills qemu with its owner");
        }
        finally
        {
            // Whatever failed above, nothing of this test keeps running: CliWrap kills the starter's tree on cancel.
            cleanup.Cancel();
            if (qemuPid != 0)
            {
                ProcessState.Kill(qemuPid, state);
            }
        }

        Directory.Exists(state).Should().BeTrue("nobody was left to remove the owner's state directory");
        var attach = async () => await QemuVm.AttachAsync(state);
        (await attach.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("is not running");
        QemuVm.DeleteStaleState(state).Should().BeTrue("its qemu is gone");
        Directory.Exists(state).Should().BeFalse();
    }
}
