using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Tasks;
using Xunit;

namespace KataAgent.VmTests.Shim;

/// <summary>
/// One shim with one pod's VM for a whole test class: the sandbox task (CRI's annotations, the VM itself) created and
/// started once; each test runs its own containers in it, as containerd's CRI does. Disposing kills the sandbox,
/// deletes it and shuts the shim down, and checks the VM's state went with it.
/// </summary>
public sealed class PodFixture : IAsyncLifetime
{
    public const string SandboxId = "pod-shim-vm";
    public const string PodHostname = "pod-host";

    internal ShimHarness Shim { get; private set; } = null!;

    internal uint QemuPid { get; private set; }

    /// <summary>The annotations containerd's CRI gives a container of this pod.</summary>
    public static Dictionary<string, string> ContainerAnnotations => new()
    {
        [PodGrouping.CriContainerType] = "container",
        [PodGrouping.CriSandboxId] = SandboxId,
    };

    public async Task InitializeAsync()
    {
        Shim = await ShimHarness.StartAsync("shim-vm-pod");
        var annotations = new Dictionary<string, string>
        {
            [PodGrouping.CriContainerType] = "sandbox",
            [PodGrouping.CriSandboxId] = SandboxId,
            ["io.kubernetes.cri.sandbox-cpu-shares"] = "1024",
            ["io.kubernetes.cri.sandbox-memory"] = "268435456",
        };
        string bundle = Shim.Bundle(SandboxId, ShimHarness.Config(["/pause"], annotations, hostname: PodHostname));
        var created = await Shim.CallAsync("Create", new CreateTaskRequest { Id = SandboxId, Bundle = bundle, Options = Shim.RuntimeOptions, Rootfs = { ShimHarness.RootfsMount() } }, CreateTaskResponse.Parser);
        QemuPid = created.Pid;
        await Shim.CallAsync("Start", new StartRequest { Id = SandboxId }, StartResponse.Parser);
    }

    public async Task DisposeAsync()
    {
        await Shim.CallAsync("Kill", new KillRequest { Id = SandboxId, Signal = 9, All = true });
        await Shim.CallAsync("Wait", new WaitRequest { Id = SandboxId }, WaitResponse.Parser);
        await Shim.CallAsync("Delete", new DeleteRequest { Id = SandboxId }, DeleteResponse.Parser);
        await Shim.CallAsync("Shutdown", new ShutdownRequest { Id = SandboxId });
        await Shim.DisposeAsync();
    }
}
