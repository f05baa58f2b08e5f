using System.Runtime.InteropServices;
using System.Text;
using CliWrap;
using KataAgent.Host;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// out/kata-agent running stand-alone as a child of the test, with its stderr captured so that a
/// failing test shows what the agent said.
/// </summary>
public sealed partial class AgentProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill = new();
    private readonly StringBuilder _output = new();
    private readonly CommandTask<CommandResult> _task;
    private readonly TempDirectory? _ownedDirectory;

    private AgentProcess(string address, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment, TempDirectory? ownedDirectory, string? networkNamespace = null)
    {
        Address = address;
        _ownedDirectory = ownedDirectory;
        // ip netns exec enters the namespace and execs the agent: the pid stays the agent's.
        var command = (networkNamespace is null
                ? Cli.Wrap(RepoPaths.AgentBinary).WithArguments(arguments)
                : Cli.Wrap("ip").WithArguments(["netns", "exec", networkNamespace, RepoPaths.AgentBinary, .. arguments]))
            .WithEnvironmentVariables(environment ?? new Dictionary<string, string?>())
            .WithStandardOutputPipe(PipeTarget.ToDelegate(Append))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(Append))
            .WithValidation(CommandResultValidation.None);
        _task = command.ExecuteAsync(_kill.Token);
    }

    /// <summary>The address the agent serves on.</summary>
    public string Address { get; }

    public int ProcessId => _task.ProcessId;

    /// <summary>Everything the agent wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _task.Task.IsCompleted;

    /// <summary>
    /// The output once it contains <paramref name="text"/>. The agent logs through a queue and writes an answer
    /// before its log lines reach the pipe, so a line logged during a call may arrive after the call returned.
    /// </summary>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!Output.Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline && !HasExited)
        {
            await Task.Delay(20);
        }
        return Output;
    }

    /// <summary>Starts the agent on a fresh unix socket.</summary>
    public static AgentProcess StartOnUnixSocket(IReadOnlyDictionary<string, string?>? environment = null)
    {
        var directory = new TempDirectory();
        string address = $"unix://{directory.File("agent.sock")}";
        return new AgentProcess(address, ["--server-addr", address, "--log", "debug"], environment, directory);
    }

    /// <summary>Starts the agent on a fresh unix socket inside the named network namespace (ip netns).</summary>
    public static AgentProcess StartOnUnixSocketInNetworkNamespace(string networkNamespace)
    {
        var directory = new TempDirectory();
        string address = $"unix://{directory.File("agent.sock")}";
        return new AgentProcess(address, ["--server-addr", address, "--log", "debug"], null, directory, networkNamespace);
    }

    /// <summary>Starts the agent with exactly these arguments; <paramref name="address"/> is what clients use.</summary>
    public static AgentProcess Start(string address, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null) =>
        new(address, arguments, environment, null);

    /// <summary>Connects the host library to this agent.</summary>
    public async Task<AgentClient> ConnectAsync(AgentClientOptions? options = null)
    {
        try
        {
            return await AgentClient.ConnectAsync(Address, options ?? new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20) });
        }
        catch (AgentConnectException e)
        {
            throw new InvalidOperationException($"{e.Message}\nagent output:\n{Output}", e);
        }
    }

    /// <summary>Sends SIGTERM and waits for the exit; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (!HasExited)
        {
            _ = Kill(_task.ProcessId, 15);
        }
        return await WaitForExitAsync(timeout);
    }

    /// <summary>Waits for the agent to exit by itself; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        var result = await _task.Task.WaitAsync(timeout);
        return result.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            _kill.Cancel();
            try
            {
                await _task.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (OperationCanceledException)
            {
            }
        }
        _ownedDirectory?.Dispose();
        _kill.Dispose();
    }

    private void Append(string line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
