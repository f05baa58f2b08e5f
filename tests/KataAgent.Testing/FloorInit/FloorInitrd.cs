using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.Testing.FloorInit;

/// <summary>
/// The boot benchmark's floor image: floor-init.c (embedded in this assembly) compiled with
/// <c>gcc -static -Os</c> and packed by our own <see cref="InitrdBuilder"/> as <c>/init</c>, with only the
/// modules the agent channel needs. Going through the same builder as the agent's image keeps
/// everything but /init identical: the same module files, list format, skeleton and compression.
/// </summary>
public static class FloorInitrd
{
    /// <summary>virtio-serial over PCI; their dependencies come along in load order from the kernel's modules.dep.</summary>
    public static IReadOnlyList<string> ModuleNames { get; } = ["virtio_pci", "virtio_console"];

    private const string SourceResource = "KataAgent.Testing.FloorInit.floor-init.c";

    /// <summary>Compiles the floor init into <paramref name="directory"/>/floor-init and returns its path.</summary>
    public static Task<string> CompileAsync(string directory, CancellationToken cancellationToken = default) =>
        StaticProgram.CompileAsync(SourceResource, "floor-init", directory, "-Os", cancellationToken);

    /// <summary>
    /// Compiles the floor init and writes the floor initrd to <paramref name="imagePath"/> for <paramref name="kernel"/>'s modules:
    /// only the init and its boot modules, none of what the agent's image adds for later (mke2fs, on-demand modules).
    /// </summary>
    public static async Task<InitrdResult> BuildAsync(KernelModules kernel, string imagePath, string workDirectory, CancellationToken cancellationToken = default)
    {
        string init = await CompileAsync(workDirectory, cancellationToken);
        return await new InitrdBuilder(new InitrdOptions { AgentPath = init, Kernel = kernel, ModuleNames = ModuleNames, OnDemandModuleNames = [], Mke2fsPath = null })
            .BuildAsync(imagePath, cancellationToken);
    }
}
