using FluentAssertions;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Tasks;
using KataAgent.Testing;
using Xunit;

namespace KataAgent.VmTests.Shim;

/// <summary>qemu killed under a running pod: every task exits with a status and its event, and the VM's host side goes.</summary>
[Collection(ShimVmCollection.Name)]
public sealed class TaskServiceVmDeathTests
{
    [Fact]
    public async Task When_qemu_is_killed_every_task_exits_with_events_and_nothing_is_left()
    {
        await using var shim = await ShimHarness.StartAsync("shim-vm-death");
        const string Sandbox = "pod-death";
        var podAnnotations = new Dictionary<string, string> { [PodGrouping.CriContainerType] = "sandbox", [PodGrouping.CriSandboxId] = Sandbox };
        string sandboxBundle = shim.Bundle(Sandbox, ShimHarness.Config(["/pause"], podAnnotations));
        uint qemu = (await shim.CallAsync("Create", new CreateTaskRequest { Id = Sandbox, Bundle = sandboxBundle, Options = shim.RuntimeOptions }, CreateTaskResponse.Parser)).Pid;
        await shim.CallAsync("Start", new StartRequest { Id = Sandbox }, StartResponse.Parser);
        string state = Directory.GetDirectories(shim.StateRoot).Single();
        var containerAnnotations = new Dictionary<string, string> { [PodGrouping.CriContainerType] = "container", [PodGrouping.CriSandboxId] = Sandbox };
        string bundle = shim.Bundle("victim", ShimHarness.Config(["sleep", "1000"], containerAnnotations));
        await shim.CallAsync("Create", new CreateTaskRequest { Id = "victim", Bundle = bundle, Rootfs = { ShimHarness.RootfsMount() } }, CreateTaskResponse.Parser);
        await shim.CallAsync("Start", new StartRequest { Id = "victim" }, StartResponse.Parser);
        var waits = new[] { ("victim", ""), (Sandbox, "") }
            .Select(p => shim.CallAsync("Wait", new WaitRequest { Id = p.Item1, ExecId = p.Item2 }, WaitResponse.Parser)).ToArray();

        using (var process = System.Diagnostics.Process.GetProcessById((int)qemu))
        {
            process.Kill();
        }

        foreach (var wait in waits)
        {
            (await wait.WaitAsync(ShimHarness.Limit)).ExitStatus.Should().Be(255u, "the VM died under it: status unknown");
        }
        shim.Events.About("victim").Should().Equal("create", "start", "exit victim:255");
        shim.Events.About(Sandbox).Should().Equal("create", "start", "exit pod-death:255");
        Directory.Exists(state).Should().BeFalse("the dead VM's state was cleaned up");
        VirtiofsdProcesses.In(state).Should().BeEmpty();
        File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(l => l.Contains(shim.StateRoot));
        (await shim.CallAsync("State", new StateRequest { Id = "victim" }, StateResponse.Parser)).ExitStatus.Should().Be(255u);

        await shim.CallAsync("Delete", new DeleteRequest { Id = "victim" }, DeleteResponse.Parser);
        await shim.CallAsync("Delete", new DeleteRequest { Id = Sandbox }, DeleteResponse.Parser);
        File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(l => l.Contains(bundle), "the container's rootfs was unmounted on Delete");
        await shim.CallAsync("Shutdown", new ShutdownRequest { Id = Sandbox });
        shim.Lifetime.Requests.Should().Be(1);
    }
}
