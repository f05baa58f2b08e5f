using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>A detached VM outlives the object that started it, is found again from its state directory, and stops cleanly.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuVmDetachedTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Detached_serial_VM_survives_dispose_is_attached_again_and_StopAsync_leaves_no_qemu_sockets_or_state()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vm");

        int pid;
        await using (var started = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, state)) with
        {
            Detached = true,
            DebugConsole = true,
            // The serial channel: qemu alone serves it, no backend process (the vsock case is the test below).
            AgentChannel = QemuAgentChannel.Serial,
        }))
        {
            pid = started.ProcessId;
            output.WriteLine($"boot to ready: {started.BootToReady.TotalSeconds:0.0} s, qemu pid {pid}");
            ProcessState.ParentOf(pid).Should().NotBe(Environment.ProcessId, "a detached qemu is daemonized, not our child");
            File.Exists(Path.Combine(state, "vm.json")).Should().BeTrue();
            File.Exists(started.DebugConsoleSocketPath).Should().BeTrue("the debug console port's socket is served by qemu");
            File.ReadAllText($"/proc/{pid}/cmdline").Should().Contain("agent.debug_console");
        }

        ProcessState.IsRunning(pid).Should().BeTrue("disposing the starter leaves a detached VM running");
        try
        {
            await using (var attached = await QemuVm.AttachAsync(state))
            {
                attached.ProcessId.Should().Be(pid);
                attached.Detached.Should().BeTrue();
                (await attached.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue();
                (await attached.Qmp.ExecuteAsync("query-status")).GetProperty("status").GetString().Should().Be("running");

                await attached.StopAsync(TimeSpan.Zero);

                attached.IsRunning.Should().BeFalse();
                ProcessState.IsRunning(pid).Should().BeFalse("StopAsync returns once qemu is gone");
            }
        }
        finally
        {
            // A detached VM outlives the test unless something stops it.
            ProcessState.Kill(pid, state);
        }

        Directory.Exists(state).Should().BeFalse("disposing a stopped VM removes its state directory, sockets included");
        var again = async () => await QemuVm.AttachAsync(state);
        (await again.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("no VM in");
    }

    [Fact]
    public async Task Detached_vsock_VM_has_a_backend_process_of_its_own_takes_connections_at_once_and_StopAsync_ends_both()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vsock");

        int pid;
        int backend;
        // ./build.sh's image: its busybox is the debug console's shell.
        await using (var started = await QemuVm.StartAsync(VmOptions.Image(state) with { Detached = true, DebugConsole = true }))
        {
            pid = started.ProcessId;
            output.WriteLine($"boot to ready: {started.BootToReady.TotalSeconds:0.0} s, qemu pid {pid}");
            started.AgentAddress.Kind.Should().Be(KataAgent.Linux.Addressing.AgentAddressKind.HybridVsock);
            backend = BackendPid(state);
            File.ReadAllText($"/proc/{backend}/cmdline").Should().Contain("vhost-user-vsock\0--socket\0" + started.VhostUserVsockSocketPath);
            ProcessState.ParentOf(backend).Should().NotBe(Environment.ProcessId, "the backend runs on its own");
            SessionOf(backend).Should().Be(backend, "the backend leads a session of its own: nothing of its starter's takes it down");
        }

        ProcessState.IsRunning(pid).Should().BeTrue("disposing the starter leaves a detached VM running");
        ProcessState.IsRunning(backend).Should().BeTrue("and its vsock backend");
        try
        {
            await using var attached = await QemuVm.AttachAsync(state);
            // Several connections at once: the attach's own, a second client, and the debug console.
            await using var second = await KataAgent.Host.AgentClient.ConnectAsync(attached.AgentAddress);
            var guests = await Task.WhenAll(
                attached.Agent.GetGuestDetailsAsync(new GuestDetailsRequest()),
                second.GetGuestDetailsAsync(new GuestDetailsRequest()));
            guests.Should().AllSatisfy(g => g.AgentDetails.InitDaemon.Should().BeTrue());
            await using (var console = await KataAgent.Host.Transport.AgentConnectors.For(attached.DebugConsoleAddress!, new KataAgent.Host.AgentClientOptions()).ConnectAsync(CancellationToken.None))
            {
                await console.WriteAsync("echo detached-$((6 * 7)); exit\n"u8.ToArray());
                (await new StreamReader(console).ReadToEndAsync()).Should().Contain("detached-42");
            }

            await attached.StopAsync(TimeSpan.Zero);

            ProcessState.IsRunning(pid).Should().BeFalse("StopAsync returns once qemu is gone");
            ProcessState.IsRunning(backend).Should().BeFalse("and its backend, which ends with qemu");
        }
        finally
        {
            ProcessState.Kill(pid, state);
            if (ProcessState.IsRunning(backend))
            {
                System.Diagnostics.Process.GetProcessById(backend).Kill();
            }
        }

        Directory.Exists(state).Should().BeFalse("disposing a stopped VM removes its state directory, sockets included");
    }

    private static int BackendPid(string state) =>
        System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(state, "vm.json"))).RootElement.GetProperty("vsockBackendProcessId").GetInt32();

    /// <summary>The session id: field 6 of /proc/PID/stat, counted after the command's closing parenthesis.</summary>
    private static int SessionOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3]);
    }
}
