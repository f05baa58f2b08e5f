namespace KataAgent.Kactl;

/// <summary>
/// Where a VM run finds its kernel, initrd and rootfs when the command line does not say: the
/// environment, else next to the kactl binary (./build.sh puts out/kactl, out/vmlinuz,
/// out/initrd.img and out/rootfs side by side).
/// </summary>
public static class VmDefaults
{
    public const string KernelVariable = "KACTL_KERNEL";
    public const string InitrdVariable = "KACTL_INITRD";
    public const string RootfsVariable = "KACTL_ROOTFS";
    public const string GuestPullInitrdVariable = "KACTL_GUEST_PULL_INITRD";

    /// <summary>The guest kernel: <paramref name="given"/>, $KACTL_KERNEL, or vmlinuz next to kactl.</summary>
    public static string Kernel(string? given) => Resolve(given, KernelVariable, "vmlinuz");

    /// <summary>The guest initrd: <paramref name="given"/>, $KACTL_INITRD, or initrd.img next to kactl.</summary>
    public static string Initrd(string? given) => Resolve(given, InitrdVariable, "initrd.img");

    /// <summary>The guest initrd for <c>--pull guest</c> (one built with <c>kata-rootfs build --guest-pull</c>): <paramref name="given"/>, $KACTL_GUEST_PULL_INITRD, or initrd-guest-pull.img next to kactl.</summary>
    public static string GuestPullInitrd(string? given) => Resolve(given, GuestPullInitrdVariable, "initrd-guest-pull.img");

    /// <summary>The container's rootfs: <paramref name="given"/>, $KACTL_ROOTFS, or rootfs next to kactl.</summary>
    public static string Rootfs(string? given) => Resolve(given, RootfsVariable, "rootfs");

    private static string Resolve(string? given, string variable, string fileName)
    {
        if (!string.IsNullOrEmpty(given))
        {
            return Path.GetFullPath(given);
        }
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment)
        {
            return Path.GetFullPath(fromEnvironment);
        }
        // Environment.ProcessPath is the native binary itself under Native AOT (the dotnet host otherwise).
        string directory = Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory;
        return Path.Combine(directory, fileName);
    }
}
