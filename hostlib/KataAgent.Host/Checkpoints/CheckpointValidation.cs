using KataAgent.Protocols;

namespace KataAgent.Host.Checkpoints;

/// <summary>The checks on checkpoint and restore options, before anything is touched.</summary>
internal static class CheckpointValidation
{
    internal const int MinCompressionLevel = 1;

    internal const int MaxCompressionLevel = 19;

    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    internal static void Validate(SandboxCheckpointOptions options)
    {
        if (options.CompressionLevel is < MinCompressionLevel or > MaxCompressionLevel)
        {
            throw new ArgumentException($"CompressionLevel: {options.CompressionLevel} is not between {MinCompressionLevel} and {MaxCompressionLevel}", nameof(options));
        }
    }

    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    internal static void Validate(SandboxRestoreOptions options)
    {
        if (string.IsNullOrEmpty(options.StateDirectory))
        {
            throw new ArgumentException("StateDirectory: is empty", nameof(options));
        }
        if (options.Id is not null)
        {
            ContainerIds.Validate(options.Id, "Id");
        }
        if (options.AgentTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"AgentTimeout: {options.AgentTimeout} is not positive", nameof(options));
        }
        if (options.NetworkNamespacePath is { } netns && !File.Exists(netns))
        {
            throw new ArgumentException($"NetworkNamespacePath: {netns} does not exist", nameof(options));
        }
        if (Directory.Exists(options.StateDirectory) && Directory.EnumerateFileSystemEntries(options.StateDirectory).Any())
        {
            throw new ArgumentException($"StateDirectory: {options.StateDirectory} is not empty; each restore needs a state directory of its own", nameof(options));
        }
    }
}
