namespace KataAgent.Kactl;

/// <summary>A failure that ends kactl with <see cref="ExitCode"/> and a one-line message on stderr.</summary>
public sealed class KactlException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The process exit code (see <see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = exitCode;
}
