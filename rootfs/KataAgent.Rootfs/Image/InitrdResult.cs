using System.Globalization;
using System.Text;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Kernel;

namespace KataAgent.Rootfs.Image;

/// <summary>What <see cref="InitrdBuilder"/> wrote, and how big each part is.</summary>
public sealed class InitrdResult
{
    /// <summary>The initrd file.</summary>
    public required string Path { get; init; }

    /// <summary>Its size on disk.</summary>
    public required long CompressedSize { get; init; }

    /// <summary>The size of the cpio archive before compression.</summary>
    public required long UncompressedSize { get; init; }

    /// <summary>The compression used.</summary>
    public required InitrdCompression Compression { get; init; }

    /// <summary>Entries in the archive (the trailer not counted).</summary>
    public required int EntryCount { get; init; }

    /// <summary>The kernel release the modules are for, or null without modules.</summary>
    public string? KernelVersion { get; init; }

    /// <summary>The agent's size.</summary>
    public required long AgentSize { get; init; }

    /// <summary>The spawn-chain helper's size (kata-agent-init), 0 without.</summary>
    public long InitHelperSize { get; init; }

    /// <summary>The interpreter and shared libraries copied, in load order.</summary>
    public required IReadOnlyList<SharedLibrary> Libraries { get; init; }

    /// <summary>Their total size.</summary>
    public required long LibrariesSize { get; init; }

    /// <summary>The modules copied, in load order.</summary>
    public required IReadOnlyList<KernelModule> Modules { get; init; }

    /// <summary>Their total size (uncompressed).</summary>
    public required long ModulesSize { get; init; }

    /// <summary>Requested modules that the kernel has built in (nothing to load).</summary>
    public required IReadOnlyList<string> BuiltInModules { get; init; }

    /// <summary>Modules packed for the agent to load when needed (not in the boot list); their bytes are in <see cref="ModulesSize"/>.</summary>
    public IReadOnlyList<KernelModule> OnDemandModules { get; init; } = [];

    /// <summary>mke2fs's size (its libraries are in <see cref="LibrariesSize"/>), 0 without.</summary>
    public long Mke2fsSize { get; init; }

    /// <summary>Busybox's size, 0 without.</summary>
    public long BusyboxSize { get; init; }

    /// <summary>The guest pull helper and CA bundle's bytes (their libraries are in <see cref="LibrariesSize"/>); 0 without guest pull.</summary>
    public long GuestPullSize { get; init; }

    /// <summary>A few human lines: sizes of the whole and of each part.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"initrd  {Path}: {FormatSize(CompressedSize)} ({Compression.ToString().ToLowerInvariant()}), {FormatSize(UncompressedSize)} cpio, {EntryCount} entries\n");
        text.Append(CultureInfo.InvariantCulture, $"  agent      {FormatSize(AgentSize)}\n");
        if (InitHelperSize > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"  helper     {FormatSize(InitHelperSize)} (kata-agent-init; the agent keeps a sealed copy and deletes this one)\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"  libraries  {FormatSize(LibrariesSize)} ({string.Join(", ", Libraries.Select(l => System.IO.Path.GetFileName(l.Path)))})\n");
        text.Append(CultureInfo.InvariantCulture, $"  modules    {FormatSize(ModulesSize)} ({Modules.Count} for {KernelVersion ?? "no kernel"}{(OnDemandModules.Count > 0 ? $", {OnDemandModules.Count} more on demand" : "")}{(BuiltInModules.Count > 0 ? $"; built in: {string.Join(", ", BuiltInModules)}" : "")})\n");
        if (Mke2fsSize > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"  mke2fs     {FormatSize(Mke2fsSize)}\n");
        }
        if (BusyboxSize > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"  busybox    {FormatSize(BusyboxSize)}\n");
        }
        if (GuestPullSize > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"  guest pull {FormatSize(GuestPullSize)} (kata-image-pull and the CA bundle)\n");
        }
        return text.ToString();
    }

    /// <summary><c>12.3 MB</c>-style size (powers of 1000), with the exact byte count.</summary>
    public static string FormatSize(long bytes) => bytes >= 1_000_000
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB ({bytes} bytes)")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0.0} kB ({bytes} bytes)");
}
