using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.SharedFs;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Sandboxes;

/// <summary>
/// A virtio-fs sandbox whose virtiofsd is SIGKILLed while a container runs: the sandbox stops its VM (as Kata's runtime
/// stops a sandbox whose virtiofsd died), its calls fail with an error naming virtiofsd's exit instead of hanging in
/// the guest's filesystem, and the destroy still leaves nothing behind.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class VirtiofsdDeathTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        StateDirectory.Delete(_temp.File("sandbox"));
        _temp.Dispose();
    }

    [Fact]
    public async Task A_killed_virtiofsd_stops_the_sandbox_with_an_error_naming_it_not_a_hang()
    {
        HostTools.RequireQemu();
        string rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        string state = _temp.File("sandbox");
        await using var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(state, "vfs-dies"));
        var container = await sandbox.CreateContainerAsync("reader", rootfs, ContainerSpecs.Default(["sh", "-c", "while cat /etc/passwd >/dev/null; do sleep 0.2; done"], terminal: false));
        await container.StartAsync();
        int virtiofsd = int.Parse(File.ReadAllText(Path.Combine(state, "virtiofsd-kataShared.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        ProcessState.Kill(virtiofsd, state);

        var create = async () => await sandbox.CreateContainerAsync("after", rootfs, ContainerSpecs.Default(["true"], terminal: false)).WaitAsync(Limit);
        var error = (await create.Should().ThrowAsync<ShareException>()).Which;
        output.WriteLine(error.Message);
        error.Kind.Should().Be(KataAgentErrorKind.Share);
        error.Message.Should().Contain("virtiofsd").And.Contain("kataShared").And.Contain("exited");
        sandbox.Failure.Should().BeSameAs(error);
        await sandbox.Vm.WaitForExitAsync().WaitAsync(Limit);
        sandbox.Vm.IsRunning.Should().BeFalse("the sandbox stopped its VM");

        await sandbox.DestroyAsync().WaitAsync(Limit);
        Directory.Exists(state).Should().BeFalse();
        File.Exists(Path.Combine(rootfs, "bin", "busybox")).Should().BeTrue("the shared rootfs is the user's and stays");
    }
}
