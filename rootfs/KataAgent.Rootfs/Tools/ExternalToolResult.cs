namespace KataAgent.Rootfs.Tools;

/// <summary>How a host program ended and what it printed.</summary>
public sealed record ExternalToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Exit code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>stderr (or stdout when stderr is empty), trimmed, for error messages.</summary>
    public string Diagnostics => (string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError).Trim();
}
