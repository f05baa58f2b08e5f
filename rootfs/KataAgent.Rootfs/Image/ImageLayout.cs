namespace KataAgent.Rootfs.Image;

/// <summary>Where things are in the guest image: the contract between the builder and the agent as PID 1.</summary>
public static class ImageLayout
{
    /// <summary>The agent's default place: the kernel runs <c>/init</c> from an initramfs.</summary>
    public const string Init = "/init";

    /// <summary>Build information, <c>key=value</c> lines (see <see cref="InitrdBuilder"/>).</summary>
    public const string BuildInfo = "/etc/kataagent-image";

    /// <summary>The name of the module list in <c>/lib/modules/KVER</c>: one absolute path per line, in load order.</summary>
    public const string ModulesListFileName = "kataagent.modules";

    /// <summary>Where busybox goes when asked for; <c>/bin/sh</c> links to it.</summary>
    public const string Busybox = "/bin/busybox";

    /// <summary>Where mke2fs goes: before busybox's applet of the same name, which makes ext2 only.</summary>
    public const string Mke2fs = "/sbin/mke2fs";

    /// <summary>The shell link to busybox.</summary>
    public const string Shell = "/bin/sh";

    /// <summary>The directory skeleton every image has (permissions 0755 except <c>/tmp</c>, 1777).</summary>
    public static IReadOnlyList<string> Directories { get; } =
        ["/bin", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/sbin", "/var"];

    /// <summary>The device nodes every image has, so that the kernel can open PID 1's console before devtmpfs is mounted.</summary>
    public static IReadOnlyList<(string Path, int Major, int Minor, int Permissions)> DeviceNodes { get; } =
    [
        ("/dev/console", 5, 1, 0x180 /* 0600 */),
        ("/dev/null", 1, 3, 0x1B6 /* 0666 */),
        // The runtime may read randomness before PID 1 has mounted devtmpfs over /dev.
        ("/dev/urandom", 1, 9, 0x1B6 /* 0666 */),
    ];

    /// <summary><c>/lib/modules/KVER</c> in the image.</summary>
    public static string ModulesDirectory(string kernelVersion) => $"/lib/modules/{kernelVersion}";

    /// <summary><c>/lib/modules/KVER/kataagent.modules</c>: the modules PID 1 loads, in order.</summary>
    public static string ModulesList(string kernelVersion) => $"{ModulesDirectory(kernelVersion)}/{ModulesListFileName}";
}
