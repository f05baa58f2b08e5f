using System.CommandLine;
using KataAgent.Host.Vm;

namespace KataAgent.Kactl;

/// <summary>
/// <c>kactl vhost-user-vsock --socket S --hybrid-socket H --cid N --qemu-pid-file P</c>, hidden from help: the
/// vhost-user-vsock backend of a detached VM (<c>kactl run -d</c>) as a process of its own, which the host library
/// starts in its own session before qemu (<see cref="QemuOptions.VsockBackendCommand"/>) and which ends once that
/// qemu has gone (<see cref="QemuVsockBackendProcess"/>). Not for people to type.
/// </summary>
public sealed class VhostUserVsockCommand
{
    public const string Name = "vhost-user-vsock";

    private readonly Option<string> _socket = new(QemuVsockBackendProcess.SocketOption) { Required = true, Description = "The vhost-user socket to listen on (qemu connects)" };
    private readonly Option<string> _hybridSocket = new(QemuVsockBackendProcess.HybridSocketOption) { Required = true, Description = "The hybrid-vsock socket to listen on" };
    private readonly Option<uint> _cid = new(QemuVsockBackendProcess.CidOption) { Required = true, Description = "The guest CID" };
    private readonly Option<string> _qemuPidFile = new(QemuVsockBackendProcess.QemuPidFileOption) { Required = true, Description = "qemu's pid file; the backend ends when that qemu has" };

    public VhostUserVsockCommand()
    {
        Command = new Command(Name, "The vhost-user-vsock backend of a detached VM (started by kactl run -d)")
        {
            _socket,
            _hybridSocket,
            _cid,
            _qemuPidFile,
        };
        Command.Hidden = true;
        Command.SetAction(KactlCommands.Guard(async (parseResult, cancellationToken) =>
        {
            // SIGTERM (or SIGINT) stops the backend cleanly: sockets closed and deleted, then exit.
            using var signals = InterruptSignals.Register();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, signals.First);
            return await QemuVsockBackendProcess.RunAsync(
                parseResult.GetRequiredValue(_socket),
                parseResult.GetRequiredValue(_hybridSocket),
                parseResult.GetValue(_cid),
                parseResult.GetRequiredValue(_qemuPidFile),
                TextWriter.Synchronized(Console.Error),
                stop.Token).ConfigureAwait(false);
        }));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    /// <summary>
    /// This kactl as a command that runs the verb: its own binary (Native AOT), or the dotnet host and kactl.dll
    /// when it runs as an assembly (tests).
    /// </summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        string process = Environment.ProcessPath ?? throw new KactlException(ExitCodes.VmFailed, "cannot find kactl's own binary to run the vsock backend of a detached VM");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Environment.GetCommandLineArgs()[0], Name]
            : [process, Name];
    }
}
