namespace KataAgent.Rootfs.Kernel;

/// <summary>A guest kernel could not be found, fetched or unpacked.</summary>
public sealed class KernelPackageException(string message) : Exception(message);
