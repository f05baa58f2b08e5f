namespace KataAgent.Rootfs.Kernel;

/// <summary>A module tree or module file cannot be used (unreadable modules.dep, undecompressable module, dependency cycle…).</summary>
public class KernelModuleException : Exception
{
    public KernelModuleException(string message) : base(message)
    {
    }

    public KernelModuleException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
