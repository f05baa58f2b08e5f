using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Rootfs.Busybox;
using KataAgent.Testing.Vsock;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Vsock;

/// <summary>
/// One sandbox on the default vsock channel (our vhost-user-vsock backend here, as there is no /dev/vhost-vsock),
/// with the debug console, shared by the tests of a class: a boot under TCG costs tens of seconds. The container
/// rootfs is busybox plus vsockprobe at /bin/vsockprobe.
/// </summary>
public sealed class VsockSandboxFixture : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();

    public Sandbox Sandbox { get; private set; } = null!;

    /// <summary>The busybox rootfs with /bin/vsockprobe.</summary>
    public string Rootfs { get; private set; } = "";

    public string StateDirectory => _temp.File("sandbox");

    public async Task InitializeAsync()
    {
        HostTools.RequireQemu();
        Rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(Rootfs, RepoPaths.Busybox);
        string probe = await VsockProbe.CompileAsync(_temp.File("probe"));
        File.Copy(probe, Path.Combine(Rootfs, "bin", "vsockprobe"));
        Sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(StateDirectory, "vsock", vm => vm with { DebugConsole = true, MemoryMiB = 768 }) with { Hostname = "vsock" });
    }

    public async Task DisposeAsync()
    {
        if (Sandbox is not null)
        {
            await Sandbox.DisposeAsync();
        }
        _temp.Dispose();
    }
}
