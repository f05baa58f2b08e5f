using CliWrap;

namespace KataAgent.Bench;

/// <summary>
/// The published agent (out/kata-agent) run stand-alone on a unix socket in a scratch directory of its own, as the
/// foundation, container and stdout sections measure it. Disposing stops it and removes the directory.
/// </summary>
internal sealed class StandaloneAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill;
    private readonly CommandTask<CommandResult> _process;

    private StandaloneAgent(string binary, string scratch, CancellationTokenSource kill, CommandTask<CommandResult> process)
    {
        Binary = binary;
        Scratch = scratch;
        _kill = kill;
        _process = process;
    }

    public string Binary { get; }

    /// <summary>The agent's own temporary directory, for the section's files too.</summary>
    public string Scratch { get; }

    public string SocketPath => Path.Combine(Scratch, "agent.sock");

    public string Address => $"unix://{SocketPath}";

    public int ProcessId => _process.ProcessId;

    public static StandaloneAgent Start(string root, string scratchPrefix)
    {
        string binary = Path.Combine(root, "out", "kata-agent");
        string scratch = Directory.CreateTempSubdirectory(scratchPrefix).FullName;
        var kill = new CancellationTokenSource();
        var process = Cli.Wrap(binary).WithArguments(["--server-addr", $"unix://{Path.Combine(scratch, "agent.sock")}", "--log", "warn"])
            .WithValidation(CommandResultValidation.None).ExecuteAsync(kill.Token);
        return new StandaloneAgent(binary, scratch, kill, process);
    }

    public async ValueTask DisposeAsync()
    {
        _kill.Cancel();
        try
        {
            await _process;
        }
        catch (OperationCanceledException)
        {
        }
        Directory.Delete(Scratch, recursive: true);
        _kill.Dispose();
    }
}
