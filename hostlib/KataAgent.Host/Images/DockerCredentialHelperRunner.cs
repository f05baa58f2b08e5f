using System.ComponentModel;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Image;
using KataAgent.Image.Registry;

namespace KataAgent.Host.Images;

/// <summary>
/// Runs docker credential helpers as docker does: <c>docker-credential-NAME get</c> from PATH, the server URL on its
/// stdin (no newline), its stdout read whole. The image library asks through <see cref="IDockerCredentialHelper"/>
/// (<see cref="DockerConfigCredentials.FindAsync"/>) and parses the answer; this class only finds and runs the
/// program. It runs with this process's environment (helpers read their own config, keychains, cloud credentials).
/// </summary>
/// <param name="searchPath">Where helpers are looked for, PATH's syntax (directories joined by <c>:</c>); null for
/// this process's <c>PATH</c> at the time of each call.</param>
public sealed class DockerCredentialHelperRunner(string? searchPath = null) : IDockerCredentialHelper
{
    /// <summary>The runner <see cref="HostImages"/> and kactl use: this process's PATH.</summary>
    public static DockerCredentialHelperRunner Instance { get; } = new();

    /// <inheritdoc/>
    public async Task<DockerCredentialHelperOutput> GetAsync(string program, string serverUrl, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(serverUrl);
        if (program.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{program}' is a path, not a program name", nameof(program));
        }
        string path = searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "";
        // Resolved here rather than by Process.Start, so that the search path is the one given and the error names it.
        string? executable = path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Where(Path.IsPathFullyQualified)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(IsExecutableFile);
        if (executable is null)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"credential helper {program} is not installed: no executable of that name in PATH ({path})");
        }
        try
        {
            var result = await Cli.Wrap(executable)
                .WithArguments(["get"])
                .WithStandardInputPipe(PipeSource.FromString(serverUrl))
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
            return new DockerCredentialHelperOutput(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (Win32Exception e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"credential helper {executable} cannot be run: {e.Message}", e);
        }
    }

    private static bool IsExecutableFile(string path)
    {
        try
        {
            var mode = File.GetUnixFileMode(path);
            return File.Exists(path) && (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
