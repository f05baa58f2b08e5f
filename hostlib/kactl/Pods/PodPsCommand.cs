using System.CommandLine;
using System.Text;
using KataAgent.Host;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Kactl.Pods;

/// <summary><c>kactl pod ps</c>: kactl's pods and their containers' states (GetPod for each running one).</summary>
public sealed class PodPsCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "ps";

    private readonly GlobalOptions _global;

    public PodPsCommand(GlobalOptions global)
    {
        _global = global;
        Command = new Command(Name, "List the pods 'kactl pod run' started, one line per container: its state and exit status");
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(parseResult.GetValue(_global.ConnectTimeout));
        var rows = new List<string[]>();
        var now = DateTimeOffset.UtcNow;
        foreach (var entry in RunDirectory.FromEnvironment().List().Where(e => e.Record?.Pod is not null))
        {
            string age = PsCommand.Age(now - entry.CreatedAt);
            if (entry.State != SandboxLiveness.Running)
            {
                rows.Add([entry.Id, "-", entry.State.ToString().ToLowerInvariant(), "-", age]);
                continue;
            }
            try
            {
                await using var pod = await PodSandboxes.AttachAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
                var status = await pod.GetStatusAsync(cancellationToken).ConfigureAwait(false);
                if (status.Gate is { State: not GateStatus.Types.State.None } gate)
                {
                    rows.Add([entry.Id, "(start gate)", gate.State.ToString().ToLowerInvariant(), gate.State == GateStatus.Types.State.Failed ? gate.Reason : "-", age]);
                }
                foreach (var container in status.Containers)
                {
                    rows.Add([entry.Id, container.Name, container.State.ToString().ToLowerInvariant(), container.State == PodContainerStatus.Types.State.Exited ? container.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-", age]);
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is KactlException or KataAgentException)
            {
                rows.Add([entry.Id, "-", "unreachable", "-", age]);
            }
        }
        await Console.Out.WriteAsync(Format(rows)).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    /// <summary>The table: a header, then the rows, columns padded to their widest cell.</summary>
    internal static string Format(IReadOnlyList<string[]> rows)
    {
        string[][] all = [["POD", "CONTAINER", "STATE", "EXIT", "AGE"], .. rows];
        int[] widths = Enumerable.Range(0, 4).Select(column => all.Max(row => row[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (string[] row in all)
        {
            for (int column = 0; column < 4; column++)
            {
                text.Append(row[column].PadRight(widths[column])).Append("  ");
            }
            text.Append(row[4]).Append('\n');
        }
        return text.ToString();
    }
}
