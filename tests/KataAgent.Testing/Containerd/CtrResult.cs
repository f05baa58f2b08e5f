namespace KataAgent.Testing.Containerd;

/// <summary>What a <c>ctr</c> invocation ended with: its exit code and both streams, whole.</summary>
/// <param name="ExitCode">ctr's exit code (for <c>ctr run</c>, the task's).</param>
/// <param name="StandardOutput">Everything ctr wrote to stdout.</param>
/// <param name="StandardError">Everything ctr wrote to stderr.</param>
public sealed record CtrResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>This result, or an error with both streams when the exit code is not 0.</summary>
    public CtrResult EnsureSuccess(string what) =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"{what}: exit {ExitCode}: {StandardError}{StandardOutput}");

    /// <inheritdoc />
    public override string ToString() => $"exit {ExitCode}, stdout [{StandardOutput}], stderr [{StandardError}]";
}
