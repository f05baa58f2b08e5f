using System.ComponentModel;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Rootfs.Tools;

/// <summary>Runs a host program (apt-cache, apt-get, dpkg, xz) through CliWrap and hands back its output.</summary>
public static class ExternalTool
{
    /// <summary>Runs <paramref name="program"/> to completion; a non-zero exit is returned, not thrown.</summary>
    /// <exception cref="FileNotFoundException">The program is not installed (not on PATH).</exception>
    public static async Task<ExternalToolResult> RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null, CancellationToken cancellationToken = default)
    {
        var command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None)
            .WithEnvironmentVariables(env => env.Set("LC_ALL", "C").Set("DEBIAN_FRONTEND", "noninteractive"));
        if (workingDirectory is not null)
        {
            command = command.WithWorkingDirectory(workingDirectory);
        }
        try
        {
            var result = await command.ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
            return new ExternalToolResult(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException($"'{program}' could not be started ({e.Message}): is it installed?", program, e);
        }
    }

    /// <summary>Runs <paramref name="program"/> and returns its standard output as bytes.</summary>
    /// <exception cref="FileNotFoundException">The program is not installed.</exception>
    /// <exception cref="InvalidOperationException">It exited non-zero.</exception>
    public static async Task<byte[]> RunForBytesAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        using var output = new MemoryStream();
        var stderr = new System.Text.StringBuilder();
        var command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToStream(output))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr));
        CommandResult result;
        try
        {
            result = await command.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException($"'{program}' could not be started ({e.Message}): is it installed?", program, e);
        }
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {result.ExitCode}: {stderr.ToString().Trim()}");
        }
        return output.ToArray();
    }

    /// <summary>Whether <paramref name="program"/> is an executable file on PATH.</summary>
    public static bool IsOnPath(string program)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Join(directory, program)))
            {
                return true;
            }
        }
        return false;
    }
}
