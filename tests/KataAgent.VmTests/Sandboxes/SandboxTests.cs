using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// The Sandbox API end to end on qemu (TCG) with <see cref="RootfsMode.Blk"/>: out/vmlinuz and out/initrd.img
/// (./build.sh), a busybox rootfs directory packed into ext4, hot-plugged, mounted by the agent's blk storage driver,
/// a container run in it. (The default, virtio-fs, is <see cref="VirtioFsSandboxTests"/>'.)
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class SandboxTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Runs_a_container_from_a_rootfs_directory_and_destroy_leaves_no_qemu_or_state()
    {
        HostTools.RequireQemu();
        string state = _temp.File("sandbox");
        var sandbox = await Sandbox.StartAsync(Options(state, "sb1"));
        int pid = sandbox.Vm.ProcessId;
        await using (sandbox)
        {
            output.WriteLine($"boot to ready: {sandbox.BootToReady.TotalSeconds:0.0} s");
            var spec = ContainerSpecs.Default(["sh", "-c", "echo hello from $(hostname); grep ' / ' /proc/mounts | cut -d' ' -f3; exit 3"], terminal: false);
            await using var container = await sandbox.CreateContainerAsync("c1", await RootfsAsync(), spec);
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
            await container.StartAsync();

            int status = await container.InitProcess.WaitAsync().WaitAsync(Limit);

            output.WriteLine(await stderr);
            status.Should().Be(3);
            (await stdout.WaitAsync(Limit)).Should().Be("hello from container\next4\n");
            spec.Root.Path.Should().Be("rootfs", "the caller's spec is left as it was");
            await sandbox.DestroyAsync();
        }

        ProcessState.IsRunning(pid).Should().BeFalse("destroying the sandbox ends its VM");
        Directory.Exists(state).Should().BeFalse("and removes its state directory");
    }

    [Fact]
    public async Task Runs_more_containers_one_after_another_than_there_are_hot_plug_slots_each_removal_unplugging_its_disk()
    {
        HostTools.RequireQemu();
        string state = _temp.File("sequence");
        var options = Options(state, "sb3");
        await using var sandbox = await Sandbox.StartAsync(options with { Vm = options.Vm with { HotplugSlots = 2 } });

        foreach (string id in new[] { "r1", "r2", "r3" })
        {
            string image = Path.Combine(state, "disks", id + ".ext4");
            await using var container = await sandbox.CreateContainerAsync(id, await RootfsAsync(), ContainerSpecs.Default(["echo", id], terminal: false));
            (await sandbox.Vm.QueryDisksAsync()).Select(d => d.ImagePath).Should().Equal([image], "only the running container's disk is attached");
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            await container.StartAsync();
            (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
            (await stdout.WaitAsync(Limit)).Should().Be(id + "\n");

            await container.RemoveAsync();

            QmpReplies.ImagesInQueryBlock(await sandbox.Vm.Qmp.ExecuteAsync("query-block")).Should().NotContain(image, "removing {0} unplugs its disk", id);
            File.Exists(image).Should().BeFalse("and deletes its image");
        }
        await sandbox.DestroyAsync();
    }

    [Fact]
    public async Task A_detached_sandbox_is_attached_again_runs_containers_and_is_destroyed_from_there()
    {
        HostTools.RequireQemu();
        string state = _temp.File("detached");
        string leftImage = Path.Combine(state, "disks", "c3.ext4");
        int pid = 0;
        Sandbox? sandbox = null;
        try
        {
            var options = Options(state, "sb2");
            await using (var started = await Sandbox.StartAsync(options with { Vm = options.Vm with { Detached = true } }))
            {
                pid = started.Vm.ProcessId;
                // Left to whoever attaches: only the sandbox's state on disk and qemu know which disk is c3's.
                await started.CreateContainerAsync("c3", await RootfsAsync(), ContainerSpecs.Default(["true"], terminal: false), new ContainerOptions { AttachStdio = false });
            }
            ProcessState.IsRunning(pid).Should().BeTrue("a detached sandbox outlives its starter");

            sandbox = await Sandbox.AttachAsync(state);
            sandbox.Id.Should().Be("sb2");
            var container = await sandbox.CreateContainerAsync("c2", await RootfsAsync(), ContainerSpecs.Default(["cat", "/etc/marker"], terminal: false));
            var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
            await container.StartAsync();
            (await container.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
            (await stdout.WaitAsync(Limit)).Should().Be("packed into ext4\n");
            var bad = async () => await sandbox.CreateContainerAsync("../c3", await RootfsAsync(), ContainerSpecs.Default(["true"], terminal: false));
            (await bad.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("containerId");

            File.Exists(leftImage).Should().BeTrue();
            await sandbox.RemoveContainerAsync("c3");

            QmpReplies.ImagesInQueryBlock(await sandbox.Vm.Qmp.ExecuteAsync("query-block")).Should().NotContain(leftImage, "the attached sandbox finds c3's disk by its image");
            File.Exists(leftImage).Should().BeFalse();
            var gone = async () => await sandbox.RemoveContainerAsync("c3");
            (await gone.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
        }
        finally
        {
            // Destroyed from here whether the checks passed or not, from the start on: a detached VM outlives the test otherwise.
            if (sandbox is not null)
            {
                await sandbox.DestroyAsync();
            }
            else if (pid != 0)
            {
                ProcessState.Kill(pid, state);
            }
        }

        ProcessState.IsRunning(pid).Should().BeFalse();
        Directory.Exists(state).Should().BeFalse();
    }

    private static SandboxOptions Options(string state, string id) =>
        VmOptions.Sandbox(state, id, vm => vm with { KernelArguments = ["agent.log=debug"] }) with { Hostname = "container", RootfsMode = RootfsMode.Blk };

    /// <summary>The shared busybox rootfs (as kactl's default), plus /etc/marker to tell it apart.</summary>
    private async Task<string> RootfsAsync()
    {
        string root = _temp.File("rootfs");
        if (!Directory.Exists(root))
        {
            await BusyboxRootfs.CreateAsync(root, RepoPaths.Busybox);
            File.WriteAllText(Path.Combine(root, "etc", "marker"), "packed into ext4\n");
        }
        return root;
    }
}
