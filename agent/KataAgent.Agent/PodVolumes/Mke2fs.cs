using KataAgent.Agent.Errors;
using KataAgent.Agent.Processes;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// Formats ext4 with e2fsprogs' own mke2fs, which the guest image carries (kata-rootfs puts Debian's /sbin/mke2fs and
/// its libraries in). A filesystem formatter is where a subtle bug loses data, so the real one is used rather than
/// one of our own. The runner is injected: the agent spawns through its reaper (<see cref="ToolRunner"/>).
/// </summary>
/// <param name="run">Runs a program with arguments to completion (the agent: <see cref="ToolRunner.RunAsync"/>).</param>
/// <param name="searchPath">Where mke2fs is looked for.</param>
internal sealed class Mke2fs(Func<string, IReadOnlyList<string>, CancellationToken, Task<ToolResult>> run, IReadOnlyList<string> searchPath)
{
    /// <summary>How long a format may take: lazy inode-table init keeps it short, but TCG guests are slow.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>The agent's: mke2fs run through <paramref name="tools"/>, looked for in <see cref="ToolRunner.SearchPath"/>.</summary>
    public Mke2fs(ToolRunner tools)
        : this((path, arguments, cancellationToken) => tools.RunAsync(path, arguments, ReadOnlyMemory<byte>.Empty, Timeout, cancellationToken), ToolRunner.SearchPath)
    {
    }

    /// <summary>
    /// Formats a whole disk (a block volume, the scratch disk) as ext4 with mke2fs' defaults for its size; inode
    /// tables are zeroed by the kernel after mounting (lazy_itable_init), so the format writes little.
    /// </summary>
    public Task FormatDiskAsync(string devicePath, string label, CancellationToken cancellationToken) =>
        RunAsync(["-q", "-F", "-t", "ext4", "-L", label, "-E", "lazy_itable_init=1", devicePath], cancellationToken);

    /// <summary>
    /// Formats an emptyDir image file: no journal (the data does not outlive the pod, and a guest crash ends the pod),
    /// no blocks reserved for root and no room kept for growth, so the image's space goes to the volume; 4 KiB blocks
    /// and mke2fs' default inode ratio whatever the size (the "small" profile would pick 1 KiB blocks).
    /// </summary>
    public Task FormatImageAsync(string imagePath, CancellationToken cancellationToken) =>
        RunAsync(["-q", "-F", "-t", "ext4", "-T", "default", "-b", "4096", "-i", "16384", "-m", "0", "-O", "^has_journal,^resize_inode", "-E", "lazy_itable_init=1,nodiscard", imagePath], cancellationToken);

    private async Task RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        string path = ToolRunner.Find("mke2fs", searchPath)
            ?? throw AgentException.FailedPrecondition(null, $"this guest has no mke2fs (looked in {string.Join(", ", searchPath)}); build the guest image with kata-rootfs, which adds it");
        ToolResult result;
        try
        {
            result = await run(path, arguments, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw AgentException.DeadlineExceeded(null, $"{path} {string.Join(' ', arguments)}: {e.Message}");
        }
        if (result.Status != 0)
        {
            throw AgentException.Internal($"{path} {string.Join(' ', arguments)} failed (exit {result.Status}): {result.Stderr.Trim()}");
        }
    }
}
