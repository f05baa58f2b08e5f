namespace KataAgent.Shim.Cli;

/// <summary>The command line is not what the shim contract allows; the message says what and which flag.</summary>
internal sealed class ShimUsageException : Exception
{
    public ShimUsageException(string message)
        : base(message)
    {
    }

    /// <summary>The caller asked for the usage text (<c>-h</c>, <c>-help</c>): not an error, as with Go's flag package.</summary>
    public bool HelpRequested { get; init; }
}
