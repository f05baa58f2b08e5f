namespace KataAgent.Rootfs.Kernel;

/// <summary>A requested module (or one a module depends on) is neither in the tree nor built into the kernel.</summary>
public sealed class KernelModuleNotFoundException(string moduleName, string kernelVersion, string modulesDirectory, string? neededBy = null)
    : KernelModuleException($"kernel module '{moduleName}'{(neededBy is null ? "" : $" (needed by '{neededBy}')")} is not in the module tree of kernel {kernelVersion} ({modulesDirectory}) and not built in")
{
    /// <summary>The missing module.</summary>
    public string ModuleName { get; } = moduleName;

    /// <summary>The kernel version of the tree searched.</summary>
    public string KernelVersion { get; } = kernelVersion;
}
