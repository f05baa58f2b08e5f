using System.CommandLine;
using System.Net.Sockets;
using KataAgent.Host;
using KataAgent.Host.Transport;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Linux.Interop;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl console ID</c>: the guest's debug console (a shell the agent runs on a pty) on kactl's terminal: vsock
/// port 1026, a shell of its own per connection (so several consoles at once), or on a serial-channel VM the
/// agent.debug_console.0 port, which qemu serves as the sandbox's console.sock, one shell that keeps running for
/// the next attach. Ctrl-] detaches.
/// </summary>
public sealed class ConsoleCommand
{
    public const string Name = "console";

    private readonly Argument<string> _id = new("ID")
    {
        Description = "Sandbox id (or a unique prefix)",
    };

    public ConsoleCommand()
    {
        Command = new Command(Name, $"Attach kactl's terminal (raw mode) to a sandbox's debug console, a shell in the guest; {ConsoleSession.DetachKeyName} detaches")
        {
            _id,
        };
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var signals = InterruptSignals.Register();
        var entry = RunDirectory.FromEnvironment().Find(parseResult.GetRequiredValue(_id));
        var addresses = SandboxAgent.RequireAddresses(entry);
        if (addresses.DebugConsole is not { } address)
        {
            throw new KactlException(ExitCodes.VmFailed, $"sandbox '{entry.Id}' was booted without a debug console");
        }
        Stream stream;
        try
        {
            // A vsock port gives a shell per connection; the serial channel's port is one shell that stays.
            stream = await AgentConnectors.For(address, new AgentClientOptions()).ConnectAsync(signals.First).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return KactlCommands.Interrupted();
        }
        catch (Exception e) when (e is SocketException or IOException or LinuxException)
        {
            SandboxAgent.RequireRunning(entry);
            throw new KactlException(ExitCodes.VmFailed, $"cannot connect to the debug console of sandbox '{entry.Id}' at {address}: {e.Message}", e);
        }
        var session = new ConsoleSession
        {
            Stream = stream,
            Signals = signals,
            Banner = $"kactl: connected to the debug console of sandbox '{entry.Id}'; {ConsoleSession.DetachKeyName} detaches",
        };
        var end = await session.RunAsync().ConfigureAwait(false);
        // The terminal is back in its own mode here; the guest's last output may have left the cursor mid-line.
        string message = end switch
        {
            ConsoleEnd.Detached => $"detached from sandbox '{entry.Id}'",
            ConsoleEnd.InputEnded => $"end of input: detached from sandbox '{entry.Id}'",
            ConsoleEnd.ClosedByRemote => $"the debug console of sandbox '{entry.Id}' closed (the VM stopped?)",
            _ => "interrupted",
        };
        await Console.Error.WriteLineAsync($"\nkactl: {message}").ConfigureAwait(false);
        return end switch
        {
            ConsoleEnd.Detached or ConsoleEnd.InputEnded => ExitCodes.Success,
            ConsoleEnd.ClosedByRemote => ExitCodes.VmFailed,
            _ => ExitCodes.Interrupted,
        };
    }
}
