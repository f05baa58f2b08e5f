using CliWrap;
using CliWrap.Buffered;
using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.Kactl;

/// <summary>Runs the published out/kactl and captures what it printed.</summary>
public static class KactlRunner
{
    /// <summary>Runs kactl with <paramref name="arguments"/>, KATA_AGENT_ADDR cleared unless given, and a 60 s safety limit
    /// (<paramref name="limit"/> for commands that boot VMs); <paramref name="environment"/> sets more variables (KACTL_RUN_DIR, …).</summary>
    public static async Task<BufferedCommandResult> RunAsync(IReadOnlyList<string> arguments, string? addressVariable = null, string? standardInput = null,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? limit = null)
    {
        using var safety = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(60));
        var command = Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(arguments)
            .WithEnvironmentVariables(env =>
            {
                env.Set("KATA_AGENT_ADDR", addressVariable);
                foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
                {
                    env.Set(name, value);
                }
            })
            .WithValidation(CommandResultValidation.None);
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }
        return await command.ExecuteBufferedAsync(safety.Token);
    }

    /// <summary>Describes a result for assertion messages.</summary>
    public static string Describe(BufferedCommandResult result) =>
        $"exit code {result.ExitCode}\nstdout:\n{result.StandardOutput}\nstderr:\n{result.StandardError}";
}
