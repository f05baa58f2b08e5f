using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Testing.Kernel;

namespace KataAgent.VmTests.Infrastructure;

/// <summary>
/// The options every VM test starts from, so that a test states only what it varies (<c>with { … }</c>): a VM of
/// the collection's kernel and an initrd, or a sandbox of ./build.sh's kernel and image.
/// </summary>
public static class VmOptions
{
    /// <summary>A VM of <paramref name="kernel"/>'s vmlinuz booting <paramref name="initrd"/>, its state in <paramref name="stateDirectory"/>.</summary>
    public static QemuOptions Boot(DebianKernelFixture kernel, string initrd, string stateDirectory) =>
        new() { KernelPath = kernel.Package.VmlinuzPath, InitrdPath = initrd, StateDirectory = stateDirectory, VsockBackendCommand = VsockBackendCommand };

    /// <summary>What runs a detached VM's vhost-user-vsock backend: out/kactl's hidden verb, as kactl itself passes it.</summary>
    public static IReadOnlyList<string> VsockBackendCommand => [RepoPaths.KactlBinary, "vhost-user-vsock"];

    /// <summary>A VM booting the collection's agent initrd, which is built once for the whole collection.</summary>
    public static async Task<QemuOptions> AgentAsync(DebianKernelFixture kernel, string stateDirectory) =>
        Boot(kernel, await kernel.AgentInitrdAsync(), stateDirectory);

    /// <summary>
    /// A VM booting ./build.sh's out/vmlinuz and out/initrd.img (whose busybox gives the debug console its shell,
    /// which the collection's agent-only initrd lacks), its state in <paramref name="stateDirectory"/>.
    /// </summary>
    public static QemuOptions Image(string stateDirectory) =>
        new() { KernelPath = RepoPaths.Kernel, InitrdPath = RepoPaths.Initrd, StateDirectory = stateDirectory, VsockBackendCommand = VsockBackendCommand };

    /// <summary>A sandbox booting ./build.sh's out/vmlinuz and out/initrd.img, its state in <paramref name="stateDirectory"/>.</summary>
    public static SandboxOptions Sandbox(string stateDirectory, string id) =>
        new() { Id = id, Vm = new QemuOptions { KernelPath = RepoPaths.Kernel, InitrdPath = RepoPaths.Initrd, StateDirectory = stateDirectory, VsockBackendCommand = VsockBackendCommand } };

    /// <summary><see cref="Sandbox(string, string)"/> with its VM's options changed by <paramref name="vm"/>.</summary>
    public static SandboxOptions Sandbox(string stateDirectory, string id, Func<QemuOptions, QemuOptions> vm)
    {
        SandboxOptions options = Sandbox(stateDirectory, id);
        return options with { Vm = vm(options.Vm) };
    }
}
