namespace KataAgent.Helpers.MemAgent;

/// <summary>
/// <c>kata-agent compact-memory PATH</c>: writes 1 to PATH (/proc/sys/vm/compact_memory), which
/// compacts all of memory before the write returns. A process of its own, as Kata's
/// <c>sh -c "echo 1 > …"</c>, so the mem-agent can stop a compaction that runs too long: the kernel
/// checks for a fatal signal between blocks.
/// </summary>
internal sealed class CompactMemoryMode : IHelperMode
{
    /// <summary>The argument that selects this mode.</summary>
    public const string Argument = "compact-memory";

    public string Name => Argument;

    public int ArgumentCount => 1;

    public int Run(IReadOnlyList<string> arguments)
    {
        try
        {
            using var file = new FileStream(arguments[0], FileMode.Open, FileAccess.Write);
            file.Write("1"u8);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"compact-memory: {arguments[0]}: {e.Message}");
            return 1;
        }
    }
}
