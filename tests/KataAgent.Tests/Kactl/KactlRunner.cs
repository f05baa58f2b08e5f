using CliWrap;
using CliWrap.Buffered;
using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.Kactl;

/// <summary>Runs the published out/kactl and captures what it printed.</summary>
public static class KactlRunner
{
    /// <summary>Runs kactl with <paramref name="arguments"/>, KATA_AGENT_ADDR cleared unless given, and a 60 s safety limit.</summary>
    public static async Task<BufferedCommandResult> RunAsync(IReadOnlyList<string> arguments, string? addressVariable = null, string? standardInput = null)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var command = Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(arguments)
            .WithEnvironmentVariables(env => env.Set("KATA_AGENT_ADDR", addressVariable))
            .WithValidation(CommandResultValidation.None);
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }
        return await command.ExecuteBufferedAsync(limit.Token);
    }

    /// <summary>Describes a result for assertion messages.</summary>
    public static string Describe(BufferedCommandResult result) =>
        $"exit code {result.ExitCode}\nstdout:\n{result.StandardOutput}\nstderr:\n{result.StandardError}";
}
