namespace KataAgent.Image.Registry;

/// <summary>What a credential helper's <c>get</c> exited with and wrote (its stdout holds the secret: never log it).</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StandardOutput">The JSON <c>{ServerURL, Username, Secret}</c>, or an error message.</param>
/// <param name="StandardError">Its stderr.</param>
public sealed record DockerCredentialHelperOutput(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Hides the secret from logs and exceptions.</summary>
    public override string ToString() => $"DockerCredentialHelperOutput {{ ExitCode = {ExitCode} }}";
}
