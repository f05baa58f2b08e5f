namespace KataAgent.Rootfs.Kernel;

/// <summary>One loadable kernel module of a module tree.</summary>
/// <param name="Name">The module name, with <c>_</c> (never <c>-</c>), as <c>lsmod</c> shows it (e.g. <c>virtio_pci</c>).</param>
/// <param name="RelativePath">Its file relative to <c>lib/modules/KVER</c>, as in modules.dep (e.g. <c>kernel/drivers/virtio/virtio_pci.ko</c>).</param>
/// <param name="HostPath">The file on the build host.</param>
/// <param name="Dependencies">The names of the modules it needs directly or indirectly (modules.dep's list), load order not implied.</param>
public sealed record KernelModule(string Name, string RelativePath, string HostPath, IReadOnlyList<string> Dependencies)
{
    /// <summary>The path inside the image's <c>lib/modules/KVER</c>: <see cref="RelativePath"/> without a <c>.xz</c>/<c>.zst</c>/<c>.gz</c> suffix (the image holds plain <c>.ko</c> files).</summary>
    public string ImageRelativePath => KernelModuleFile.StripCompressionSuffix(RelativePath);
}
