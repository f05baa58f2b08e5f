using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.Rootfs.Image;

/// <summary>What goes into an initrd.</summary>
public sealed class InitrdOptions
{
    /// <summary>The agent binary (normally <c>out/kata-agent</c>). Its shared libraries and interpreter come along.</summary>
    public required string AgentPath { get; init; }

    /// <summary>Where the agent goes in the image; <c>/init</c> makes it PID 1.</summary>
    public string AgentImagePath { get; init; } = ImageLayout.Init;

    /// <summary>
    /// The agent's spawn-chain helper (normally <c>out/kata-agent-init</c>, beside the agent), put beside the agent in
    /// the image, where the agent looks for it; its libraries come along. kata-agent does not start without it. Null
    /// leaves it out: for an image whose /init is not kata-agent.
    /// </summary>
    public string? InitHelperPath { get; init; }

    /// <summary>The helper's file name, beside the agent on the host and in the image.</summary>
    public const string InitHelperFileName = "kata-agent-init";

    /// <summary>Where <see cref="InitHelperPath"/> goes in the image: beside <see cref="AgentImagePath"/>.</summary>
    public string InitHelperImagePath => ImageTree.Normalize(Path.Combine(Path.GetDirectoryName(ImageTree.Normalize(AgentImagePath)) ?? "/", InitHelperFileName));

    /// <summary>The helper beside <paramref name="agentPath"/> on the host: the default of <c>kata-rootfs build --init-helper</c>.</summary>
    public static string InitHelperBeside(string agentPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(agentPath))!, InitHelperFileName);

    /// <summary>The kernel's module tree, or null for a kernel with everything built in (no modules in the image).</summary>
    public KernelModules? Kernel { get; init; }

    /// <summary>The modules wanted; their dependencies come along. Ignored without <see cref="Kernel"/>.</summary>
    public IReadOnlyList<string> ModuleNames { get; init; } = KernelModules.DefaultSet;

    /// <summary>
    /// Modules packed (with their dependencies, in modules.dep) but not in the boot list: the agent loads them when
    /// first needed. Ignored without <see cref="Kernel"/>.
    /// </summary>
    public IReadOnlyList<string> OnDemandModuleNames { get; init; } = KernelModules.OnDemandSet;

    /// <summary>
    /// e2fsprogs' mke2fs (Debian's <c>/sbin/mke2fs</c>), put at <c>/sbin/mke2fs</c> with its libraries: the guest formats
    /// pod volumes ext4 with it. Null leaves it out (the guest then refuses volumes that need formatting).
    /// </summary>
    public string? Mke2fsPath { get; init; } = DefaultMke2fs;

    /// <summary>Debian's mke2fs (e2fsprogs).</summary>
    public const string DefaultMke2fs = "/sbin/mke2fs";

    /// <summary>A busybox to put at <c>/bin/busybox</c> (with <c>/bin/sh</c> linking to it) for the debug console; null for none. A static one needs nothing else.</summary>
    public string? BusyboxPath { get; init; }

    /// <summary>Guest pull's helper, TLS libraries and CA bundle; null (the default) leaves them out, so the image does not grow.</summary>
    public GuestPullFiles? GuestPull { get; init; }

    /// <summary>
    /// The compression of the output: none by default. The kernel frees the archive once unpacked, so compression
    /// saves no guest memory, only disk; and it costs boot time: under TCG, gunzip of the agent's image took 0.48 s
    /// where copying the plain cpio took 0.17 s (docs/BENCHMARKS.md, "Boot to ready").
    /// </summary>
    public InitrdCompression Compression { get; init; } = InitrdCompression.None;

    /// <summary>The mtime of every entry: <c>SOURCE_DATE_EPOCH</c> when set, else 0. Same inputs, same bytes.</summary>
    public long ModificationTime { get; init; } = DefaultModificationTime();

    /// <summary>The host directory shared libraries are copied from (the image's <c>/</c>); <c>/</c> for the build host.</summary>
    public string LibraryRoot { get; init; } = "/";

    /// <summary>Runs last, before the archive is written: adds or replaces what the caller wants (tests put a script at <c>/init</c>).</summary>
    public Action<ImageTree>? Customize { get; init; }

    private static long DefaultModificationTime() =>
        long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), out long epoch) && epoch is >= 0 and <= uint.MaxValue ? epoch : 0;
}
