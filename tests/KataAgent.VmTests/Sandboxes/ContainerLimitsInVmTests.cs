using FluentAssertions;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// Containers in the guest under limits and failures: cgroup v2 limits enforced by the guest kernel, and a crashing container. The development and CI hosts are cgroup-v1 hybrids
/// (memory and pids are bound to v1, the unified hierarchy has no controllers), so these run where the
/// agent really lives: as PID 1 of a VM, whose cgroup2 mount has every controller. One sandbox serves
/// the whole class; each test runs its own container in it.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class ContainerLimitsInVmTests(ContainerLimitsInVmTests.SandboxFixture vm, ITestOutputHelper output) : IClassFixture<ContainerLimitsInVmTests.SandboxFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_memory_limit_is_enforced_and_the_oom_kill_is_reported_through_GetOOMEvent()
    {
        var spec = ContainerSpecs.Default(["sh", "-c", "echo allocating; dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd exited $?"], terminal: false);
        spec.Linux.Resources = new LinuxResources { Memory = new LinuxMemory { Limit = 16 * 1024 * 1024, Swap = 16 * 1024 * 1024 } };
        using var watch = new CancellationTokenSource(Limit);
        var oomEvent = vm.Sandbox.Agent.GetOOMEventAsync(new GetOOMEventRequest(), watch.Token);

        await using var container = await vm.Sandbox.CreateContainerAsync("oom", vm.Rootfs, spec);
        var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
        var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
        await container.StartAsync();
        int status = await container.InitProcess.WaitAsync().WaitAsync(Limit);

        output.WriteLine($"status {status}; stderr: {await stderr}");
        (await stdout).Should().Be("allocating\ndd exited 137\n", "filling a 64 MiB buffer under a 16 MiB limit gets dd, the cgroup's biggest task, SIGKILLed");
        status.Should().Be(0, "the OOM killer takes dd, not the shell");
        (await oomEvent.WaitAsync(Limit)).ContainerId.Should().Be("oom", "the agent reports the OOM kill from memory.events");
        await container.RemoveAsync();
    }

    [Fact]
    public async Task A_pids_limit_stops_forks_beyond_it()
    {
        // The shell is the container's one task; each `sleep &` is one more. A failed fork is fatal to a
        // non-interactive ash, so the shell stops at the first one the limit refuses.
        var spec = ContainerSpecs.Default(["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 30 & echo started $i; done"], terminal: false);
        spec.Linux.Resources = new LinuxResources { Pids = new LinuxPids { Limit = 4 } };

        await using var container = await vm.Sandbox.CreateContainerAsync("pids", vm.Rootfs, spec);
        var stdout = StreamText.ReadAllAsync(container.InitProcess.Stdout);
        var stderr = StreamText.ReadAllAsync(container.InitProcess.Stderr!);
        await container.StartAsync();
        int status = await container.InitProcess.WaitAsync().WaitAsync(Limit);

        string errors = await stderr;
        output.WriteLine($"status {status}; stderr: {errors}");
        (await stdout).Should().Be("started 1\nstarted 2\nstarted 3\n", "pids.max=4 leaves room for the shell and three sleeps");
        errors.Should().Contain("can't fork");
        status.Should().Be(2, "ash exits with 2 when a fork fails");
        var stats = await vm.Sandbox.Agent.StatsContainerAsync(new StatsContainerRequest { ContainerId = "pids" });
        stats.CgroupStats.PidsStats.Limit.Should().Be(4);
        await container.RemoveAsync();
    }

    [Fact]
    public async Task The_agent_survives_a_container_whose_init_crashes_and_runs_the_next_one()
    {
        await using (var crashing = await vm.Sandbox.CreateContainerAsync("crash", vm.Rootfs, ContainerSpecs.Default(["sh", "-c", "echo about to crash; sh -c 'kill -SEGV $$'; exit $?"], terminal: false)))
        {
            var stdout = StreamText.ReadAllAsync(crashing.InitProcess.Stdout);
            await crashing.StartAsync();
            (await crashing.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(128 + 11, "the workload died of SIGSEGV (PID 1 of the namespace ignores a SIGSEGV it sends itself, so the crash is its child's, passed on)");
            (await stdout).Should().Be("about to crash\n");
            await crashing.RemoveAsync();
        }

        (await vm.Sandbox.Agent.CheckAsync()).Status.Should().Be(KataAgent.Protocols.Agent.HealthCheckResponse.Types.ServingStatus.Serving);
        await using var next = await vm.Sandbox.CreateContainerAsync("after-crash", vm.Rootfs, ContainerSpecs.Default(["echo", "still serving"], terminal: false));
        var nextOutput = StreamText.ReadAllAsync(next.InitProcess.Stdout);
        await next.StartAsync();
        (await next.InitProcess.WaitAsync().WaitAsync(Limit)).Should().Be(0);
        (await nextOutput).Should().Be("still serving\n");
        await next.RemoveAsync();
    }

    public sealed class SandboxFixture : IAsyncLifetime
    {
        private readonly TempDirectory _temp = new();

        public Sandbox Sandbox { get; private set; } = null!;

        public string Rootfs => _temp.File("rootfs");

        public async Task InitializeAsync()
        {
            HostTools.RequireQemu();
            await BusyboxRootfs.CreateAsync(Rootfs);
            Sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(_temp.File("sandbox"), "limits", vm => vm with { MemoryMiB = 512 }));
        }

        public async Task DisposeAsync()
        {
            if (Sandbox is not null)
            {
                await Sandbox.DestroyAsync();
            }
            _temp.Dispose();
        }
    }
}
