using System.Text;
using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Checkpoints;

/// <summary>
/// Sandbox checkpoint and restore on qemu (TCG), from the checkpoints of <see cref="CounterCheckpointFixture"/>'s
/// counter: the restored counter goes on where it was, with nothing on the host's stream lost or printed twice; two
/// restores of one checkpoint run side by side; a LeaveRunning checkpoint leaves the source running; a corrupt or
/// truncated checkpoint is refused by name and starts nothing.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class SandboxCheckpointTests(CounterCheckpointFixture counter, ITestOutputHelper output) : IClassFixture<CounterCheckpointFixture>
{
    [Fact]
    public async Task A_restored_counter_goes_on_where_it_was_with_nothing_lost_or_printed_twice()
    {
        counter.Stopped!.LeftRunning.Should().BeFalse();
        ProcessState.IsRunning(counter.SourceProcessId).Should().BeFalse("a checkpoint without LeaveRunning stops the pod");
        Directory.Exists(counter.SourceState).Should().BeFalse("and tears it down");
        output.WriteLine($"checkpoint: {counter.Stopped.SizeBytes} bytes, memory {counter.Stopped.MemoryBytes}, downtime {counter.Stopped.Downtime.TotalSeconds:0.0} s");
        string before = counter.OutputBeforeCheckpoint;
        int printed = before.Count(c => c == '\n');
        before.Should().Be(CounterCheckpointFixture.Sequence(1, printed));

        string state = counter.Temp.File("restored");
        await using var restored = await Sandbox.RestoreAsync(counter.Checkpoint, new SandboxRestoreOptions { StateDirectory = state, Id = "restored" });

        restored.Id.Should().Be("restored");
        restored.Vm.StateDirectory.Should().Be(state);
        var container = restored.Containers.Should().ContainSingle().Subject;
        var text = new StringBuilder(before);
        var reading = CounterCheckpointFixture.ReadIntoAsync(container.InitProcess.Stdout, text);
        await CounterCheckpointFixture.UntilAsync(() => CounterCheckpointFixture.Count(text) >= printed + 10);
        int now = CounterCheckpointFixture.Count(text);
        lock (text)
        {
            text.ToString()[..CounterCheckpointFixture.Sequence(1, now).Length].Should().Be(CounterCheckpointFixture.Sequence(1, now),
                "the host's stream goes on after {0} with nothing lost or twice", printed);
        }
        var exec = await container.ExecAsync(ContainerSpecs.Default(["cat", "/count"], terminal: false).Process);
        string count = await StreamText.ReadAllAsync(exec.Stdout);
        int.Parse(count.Trim()).Should().BeGreaterThan(printed, "the counter's file in its disk went on from where it was");
        (await restored.Vm.Qmp.ExecuteAsync("query-hotpluggable-cpus")).EnumerateArray().Count(slot => slot.TryGetProperty("qom-path", out _)).Should().Be(2, "the hot-plugged vCPU is there again");
        await restored.DestroyAsync();
        _ = reading.ContinueWith(t => t.Exception, TaskScheduler.Default);
        Directory.Exists(state).Should().BeFalse();
    }

    [Fact]
    public async Task Two_restores_of_one_checkpoint_run_side_by_side_under_two_ids()
    {
        string one = counter.Temp.File("side-1");
        string two = counter.Temp.File("side-2");
        await using var first = await Sandbox.RestoreAsync(counter.Checkpoint, new SandboxRestoreOptions { StateDirectory = one, Id = "side-1" });
        await using var second = await Sandbox.RestoreAsync(counter.Checkpoint, new SandboxRestoreOptions { StateDirectory = two, Id = "side-2" });

        first.Vm.ProcessId.Should().NotBe(second.Vm.ProcessId);
        first.Vm.IsRunning.Should().BeTrue();
        second.Vm.IsRunning.Should().BeTrue();
        first.Vm.AgentSocketPath.Should().NotBe(second.Vm.AgentSocketPath);
        (await first.Vm.QueryDisksAsync()).Single().ImagePath.Should().StartWith(one + "/", "each restore runs on its own copy of the disk");
        (await second.Vm.QueryDisksAsync()).Single().ImagePath.Should().StartWith(two + "/");
        int printed = counter.OutputBeforeCheckpoint.Count(c => c == '\n');
        foreach (var sandbox in new[] { first, second })
        {
            var text = new StringBuilder();
            var reading = CounterCheckpointFixture.ReadIntoAsync(sandbox.Containers.Single().InitProcess.Stdout, text);
            await CounterCheckpointFixture.UntilAsync(() => CounterCheckpointFixture.Count(text) >= 3);
            lock (text)
            {
                text.ToString().Should().StartWith(CounterCheckpointFixture.Sequence(printed + 1, printed + 3), "sandbox {0} goes on from the checkpoint", sandbox.Id);
            }
        }
        await first.DestroyAsync();
        second.Vm.IsRunning.Should().BeTrue("destroying one restore leaves the other");
        await second.DestroyAsync();
    }

    [Fact]
    public void A_checkpoint_with_LeaveRunning_leaves_the_source_running()
    {
        counter.StatusAfterLiveCheckpoint.Should().Be("running");
        counter.PrintedAfterLiveCheckpoint.Should().BeGreaterThanOrEqualTo(counter.PrintedAtLiveCheckpoint + 5, "the counter went on in the source");
        File.Exists(Path.Combine(counter.LiveCheckpoint, "manifest.json")).Should().BeTrue();
    }

    [Theory]
    [InlineData("truncate-state")]
    [InlineData("corrupt-disk")]
    [InlineData("no-manifest")]
    [InlineData("corrupt-manifest")]
    public async Task A_corrupt_or_truncated_checkpoint_is_refused_by_name_and_starts_nothing(string damage)
    {
        string copy = counter.Temp.File("damaged-" + damage);
        CopyDirectory(counter.Checkpoint, copy);
        string expected;
        switch (damage)
        {
            case "truncate-state":
                using (var state = new FileStream(Path.Combine(copy, "vm-state.zst"), FileMode.Open))
                {
                    state.SetLength(state.Length / 2);
                }
                expected = "vm-state.zst is truncated";
                break;
            case "corrupt-disk":
                string disk = Directory.GetFiles(Path.Combine(copy, "disks")).Single();
                using (var stream = new FileStream(disk, FileMode.Open))
                {
                    stream.Position = 1024;
                    int b = stream.ReadByte();
                    stream.Position = 1024;
                    stream.WriteByte((byte)(b ^ 0xff));
                }
                expected = Path.GetFileName(disk) + " is corrupt";
                break;
            case "no-manifest":
                File.Delete(Path.Combine(copy, "manifest.json"));
                expected = "manifest.json is missing";
                break;
            default:
                File.WriteAllText(Path.Combine(copy, "manifest.json"), "{\"formatVersion\": 1, \"files\": [");
                expected = "manifest.json is corrupt";
                break;
        }
        string target = counter.Temp.File("not-started-" + damage);

        var restore = () => Sandbox.RestoreAsync(copy, new SandboxRestoreOptions { StateDirectory = target });

        (await restore.Should().ThrowAsync<CheckpointException>()).Which.Message.Should().Contain(expected);
        QemuVm.IsRunningIn(target).Should().BeFalse("nothing was started");
        Directory.Exists(target).Should().BeFalse("and nothing was left");
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
