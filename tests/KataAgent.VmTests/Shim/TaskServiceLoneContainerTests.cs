using System.Text;
using System.Text.Json.Nodes;
using FluentAssertions;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Tasks;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.VmTests.Shim;

/// <summary>
/// A container with no pod, as <c>ctr run -t</c> makes it: it boots a VM of its own (sized by its own resources), runs
/// in it with a terminal (resized, stdin from its FIFO), and takes the VM with it on Delete, after which the shim ends.
/// </summary>
[Collection(ShimVmCollection.Name)]
public sealed class TaskServiceLoneContainerTests
{
    [Fact]
    public async Task A_lone_container_with_a_terminal_boots_its_own_VM_and_takes_it_away_on_Delete()
    {
        await using var shim = await ShimHarness.StartAsync("shim-vm-lone");
        var config = ShimHarness.Config(["sh", "-c", "read line; echo \"got $line\"; stty size; tty"], terminal: true, hostname: "lone");
        config["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 268435456 } };
        string bundle = shim.Bundle("lone1", config);
        var (stdin, stdout, _) = shim.Fifos("lone1");
        var output = ShimHarness.ReadFifoAsync(stdout);

        var created = await shim.CallAsync("Create", new CreateTaskRequest
        {
            Id = "lone1", Bundle = bundle, Terminal = true, Stdin = stdin, Stdout = stdout,
            Rootfs = { ShimHarness.RootfsMount() }, Options = shim.RuntimeOptions,
        }, CreateTaskResponse.Parser);
        string[] states = Directory.GetDirectories(shim.StateRoot);
        states.Should().ContainSingle("the container booted a VM of its own");
        ProcessState.IsRunning((int)created.Pid).Should().BeTrue("the task pid is the VM's qemu");
        await shim.CallAsync("Start", new StartRequest { Id = "lone1" }, StartResponse.Parser);
        await shim.CallAsync("ResizePty", new ResizePtyRequest { Id = "lone1", Width = 100, Height = 40 });
        await using (var writer = await Task.Run(() => new FileStream(stdin, FileMode.Open, FileAccess.Write)))
        {
            await writer.WriteAsync("hello\n"u8.ToArray());
        }
        var exit = await shim.CallAsync("Wait", new WaitRequest { Id = "lone1" }, WaitResponse.Parser);

        exit.ExitStatus.Should().Be(0u);
        string text = await output.WaitAsync(ShimHarness.Limit);
        text.Should().Contain("got hello\r\n").And.Contain("40 100\r\n").And.Contain("/dev/pts/");
        await shim.CallAsync("Delete", new DeleteRequest { Id = "lone1" }, DeleteResponse.Parser);
        Directory.Exists(states[0]).Should().BeFalse("Delete took the VM and its state away");
        (await ProcessState.ExitsWithinAsync((int)created.Pid, TimeSpan.FromSeconds(30))).Should().BeTrue();
        VirtiofsdProcesses.In(states[0]).Should().BeEmpty();
        File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(l => l.Contains(bundle) || l.Contains(shim.StateRoot));
        shim.Events.About("lone1").Should().Equal("create", "start", "exit lone1:0", "delete");
        await shim.CallAsync("Shutdown", new ShutdownRequest { Id = "lone1" });
        shim.Lifetime.Requests.Should().Be(1, "no task is left: the shim ends");
        (await TaskService.CleanupAsync(new ShimArguments { Namespace = shim.Namespace, Id = "lone1", Bundle = bundle }, CancellationToken.None))
            .ExitStatus.Should().Be(137u, "the delete action after a clean delete finds nothing to do and answers as Kata");
    }

    [Fact]
    public async Task A_daemon_ending_with_a_task_containerd_never_deleted_leaves_no_VM_mount_or_state()
    {
        var shim = await ShimHarness.StartAsync("shim-vm-abandon");
        string bundle;
        string state;
        uint qemu;
        try
        {
            bundle = shim.Bundle("left1", ShimHarness.Config(["sleep", "1000"]));
            qemu = (await shim.CallAsync("Create", new CreateTaskRequest { Id = "left1", Bundle = bundle, Rootfs = { ShimHarness.RootfsMount() }, Options = shim.RuntimeOptions }, CreateTaskResponse.Parser)).Pid;
            await shim.CallAsync("Start", new StartRequest { Id = "left1" }, StartResponse.Parser);
            state = Directory.GetDirectories(shim.StateRoot).Single();
            File.ReadAllLines("/proc/self/mountinfo").Should().Contain(l => l.Contains(Path.Combine(bundle, "rootfs")));

            // What the daemon does on SIGTERM: the task service is disposed with the task still running.
            await shim.Service.DisposeAsync();

            (await ProcessState.ExitsWithinAsync((int)qemu, TimeSpan.FromSeconds(30))).Should().BeTrue();
            Directory.Exists(state).Should().BeFalse();
            VirtiofsdProcesses.In(state).Should().BeEmpty();
            File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(l => l.Contains(bundle) || l.Contains(shim.StateRoot));
            File.Exists(Path.Combine(bundle, BundleState.FileName)).Should().BeFalse();
        }
        finally
        {
            await shim.DisposeAsync();
        }
    }
}
